"""What a worker (a process, or a Ray task on another machine) and the owner of the persons folder
tell each other: one frozen dataclass per kind, and ``check``, the one place where a message
received is validated before anything acts on it.

A worker tracks a video exactly as a serial run does, but its files go to the owner as messages,
in order: ``WriteMetadata`` (a folder's ``track.json``, always before the folder's first crop),
``SaveCrop``, ``DeleteCrop``, ``FramesDone``, ``Problem``, and last ``VideoDone`` or ``VideoFailed``.
Folders are numbered per video by the worker (provisional numbers); the owner gives them person ids.
Messages from a ``--ray ADDRESS`` cluster cross a network, so the owner trusts nothing in them: a
file name must be a plain crop name as the tracker makes them, a folder a provisional number, a
kind one of these. An invalid message is rejected (``MessageError``) and never writes.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.persons import is_crop_name
from .progress import VideoResult
from .sources import Source
from .tracks import RunContext
from .videos import VideoInfo

BATCH = 32  # messages sent together: crops are a few kB each
MAX_FOLDER = 10**9  # provisional folder numbers count the tracks of one video


class MessageError(ValueError):
    """A message the owner refuses: what is wrong with it, in one line."""


@dataclass(frozen=True)
class VideoTask:
    """One video (or live source) for a worker, as the owner admitted it."""

    index: int  # its place in the run's list of videos
    video: Path | Source
    info: VideoInfo | None  # None for a live source: the worker opens it
    fingerprint: str
    context: RunContext


@dataclass(frozen=True)
class WriteMetadata:
    folder: int  # provisional
    document: dict[str, Any]  # the folder's track.json


@dataclass(frozen=True)
class SaveCrop:
    folder: int
    name: str  # a plain crop file name
    jpeg: bytes


@dataclass(frozen=True)
class DeleteCrop:
    folder: int
    name: str


@dataclass(frozen=True)
class FramesDone:
    count: int  # frames tracked since the last one
    persons: int  # folders of the video so far


@dataclass(frozen=True)
class Problem:
    message: str  # a warning about the video; it goes on


@dataclass(frozen=True)
class VideoDone:
    fields: dict[str, Any]  # what tracking found (``result_fields``); person_ids are provisional


@dataclass(frozen=True)
class VideoFailed:
    message: str


Message = WriteMetadata | SaveCrop | DeleteCrop | FramesDone | Problem | VideoDone | VideoFailed


# Between a worker process and its owner (``workers.py``), each way on a pipe of its own.
@dataclass(frozen=True)
class WorkerReady:
    """The worker takes its next ``VideoTask`` (or None: there is no more)."""


@dataclass(frozen=True)
class WorkerAlive:
    """The heartbeat: the process answers, whatever its tracking thread is doing."""


@dataclass(frozen=True)
class WorkerUnusable:
    message: str  # the detector cannot run there


@dataclass(frozen=True)
class VideoBatch:
    index: int  # the video's ``VideoTask.index``
    messages: list[Message]


@dataclass(frozen=True)
class StopLive:
    """From the owner: end the live source being tracked, as done."""


FILE_MESSAGES = (WriteMetadata, SaveCrop, DeleteCrop)
LAST_MESSAGES = (VideoDone, VideoFailed)

# What the owner knows of a video better than a worker: never taken from a worker's result.
OWNER_FIELDS = ("video", "replaced", "note", "earlier_persons", "annotated", "mot_file")
_RESULT_TYPES = {
    f.name: type(getattr(VideoResult(video=Path()), f.name))
    for f in dataclasses.fields(VideoResult)
    if f.name not in OWNER_FIELDS
}
_OPTIONAL_TEXT = ("error", "warning")


def result_fields(result: VideoResult) -> dict[str, Any]:
    """What the owner needs of a worker's result: what tracking found."""
    return {name: getattr(result, name) for name in _RESULT_TYPES}


def is_last(messages: list[Message]) -> bool:
    """Whether a batch ends its video."""
    return bool(messages) and isinstance(messages[-1], LAST_MESSAGES)


def check(message: Any, folders: set[int]) -> Message:
    """``message`` if it is valid, else ``MessageError``. ``folders``: the provisional folders of its
    video so far (a result may name only those)."""
    if isinstance(message, WriteMetadata):
        _folder(message.folder)
        _document(message.document)
    elif isinstance(message, SaveCrop | DeleteCrop):
        _folder(message.folder)
        _crop_name(message.name)
        if isinstance(message, SaveCrop) and not isinstance(message.jpeg, bytes):
            raise MessageError("a crop's data must be bytes")
    elif isinstance(message, FramesDone):
        _count(message.count, "a frame count")
        _count(message.persons, "a person count")
        if message.count > BATCH:  # a worker reports every BATCH frames at the latest
            raise MessageError(f"more frames at once than a worker reports: {message.count}")
    elif isinstance(message, Problem | VideoFailed):
        _text(message.message, "a message")
    elif isinstance(message, VideoDone):
        _result(message.fields, folders)
    else:
        raise MessageError(f"not a message of a known kind: {type(message).__name__}")
    return message


def _folder(value: Any) -> None:
    if not _is_int(value) or not 1 <= value <= MAX_FOLDER:
        raise MessageError(f"not a folder number: {value!r}")


def _crop_name(value: Any) -> None:
    if not isinstance(value, str) or not is_crop_name(value):
        raise MessageError(f"not a crop file name: {value!r}")


def _count(value: Any, what: str) -> None:
    if not _is_int(value) or value < 0:
        raise MessageError(f"not {what}: {value!r}")


def _text(value: Any, what: str) -> None:
    if not isinstance(value, str):
        raise MessageError(f"not {what}: {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _document(document: Any) -> None:
    """A track.json document: a JSON object whose crops are plain crop names."""
    if not isinstance(document, dict) or not all(isinstance(key, str) for key in document):
        raise MessageError("a track.json document must be a JSON object")
    crops = document.get("crops", [])
    if not isinstance(crops, list) or not all(isinstance(c, dict) for c in crops):
        raise MessageError("a track.json document's crops must be a list of objects")
    for crop in crops:
        _crop_name(crop.get("file"))
    try:
        json.dumps(document, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"a track.json document must be plain JSON: {exc}") from None


def _result(fields: Any, folders: set[int]) -> None:
    if not isinstance(fields, dict):
        raise MessageError("a video's result must be a mapping")
    unknown = set(fields) - set(_RESULT_TYPES)
    if unknown:
        raise MessageError(f"a video's result has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    for name, value in fields.items():
        kind = _RESULT_TYPES[name]
        if name in _OPTIONAL_TEXT:
            ok = value is None or isinstance(value, str)
        elif kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        elif kind is int:
            ok = _is_int(value) and value >= 0
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise MessageError(f"a video's result has a bad {name}: {value!r}")
    if fields.get("state", "done") not in ("done", "failed"):
        raise MessageError(f"a video's result has a bad state: {fields['state']!r}")
    ids = fields.get("person_ids", [])
    if not all(_is_int(i) and i in folders for i in ids) or len(set(ids)) != len(ids):
        raise MessageError("a video's result names folders it never made")
