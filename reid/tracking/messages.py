"""What a worker (a process, or a Ray task on another machine) and the owner of the persons folder
tell each other: one frozen dataclass per kind.

A worker tracks a video exactly as a serial run does, but its files go to the owner as messages,
in order: ``SaveCrop``, ``DeleteCrop``, ``WriteMetadata`` (a folder's ``track.json``), ``FramesDone``,
``Problem``, and last ``VideoDone`` or ``VideoFailed``. Folders are numbered per video by the worker
(provisional numbers); the owner gives them person ids.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .progress import VideoResult
from .sources import Source
from .tracks import RunContext
from .videos import VideoInfo

BATCH = 32  # messages sent together: crops are a few kB each
MAX_FOLDER = 10**9  # provisional folder numbers count the tracks of one video


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
