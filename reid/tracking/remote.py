"""Tracking a video away from the persons folder (``--workers``, ``--ray``), with one owner of its files.

A worker (another process, or a Ray task on another machine) tracks a video exactly as a serial run
does (``TrackingRun.track_book``: the same detector, tracker and choice of crops), but its allocator
and writer only record what they would do: crops (JPEG-encoded where they are cut), deletions and
``track.json`` documents, under provisional folder numbers. The messages reach the one process that
owns the persons folder, whose ``FolderOwner`` gives each provisional folder a real person id (the
same ``IdAllocator`` as ever) and writes every file through the usual writer, atomically and in
order. So ids stay unique and no worker needs the persons folder, or even the same file system.

Messages (``Op``), in order per video: ``("save", folder, name, jpeg)``, ``("delete", folder, name)``,
``("metadata", folder, document)``, ``("frames", n, persons)``, ``("problem", message)``, and last
``("done", result_fields)`` or ``("failed", message)``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..core.config import TrackingConfig
from ..core.errors import OutputError
from ..core.files import atomic_write_bytes
from ..core.persons import IdAllocator, write_track_metadata
from ..core.status import ErrorLog
from ..core.threads import NamedThread
from ..merging.faults import fault_point
from .progress import VideoResult
from .sources import Source
from .tracks import RunContext
from .videos import VideoInfo
from .writer import CropWriter

log = logging.getLogger(__name__)

Op = tuple[Any, ...]
BATCH = 32  # messages sent together: crops are a few kB each
PROVISIONAL = "provisional-"  # the name of a worker's folder until the owner gives it a person id


@dataclass(frozen=True)
class VideoTask:
    """One video (or live source) for a worker, as the owner admitted it."""

    index: int  # its place in the run's list of videos
    video: Path | Source
    info: VideoInfo | None  # None for a live source: the worker opens it
    fingerprint: str
    context: RunContext


class Outbox:
    """Collects a worker's messages and sends them in batches (``send`` may be a queue's put)."""

    def __init__(self, send: Callable[[list[Op]], None]) -> None:
        self.send = send
        self.ops: list[Op] = []
        self.frames = 0  # frames tracked since the last batch, sent as one message
        self.persons = 0
        self.lock = threading.Lock()  # the tracking thread and the writer's caller both add

    def add(self, op: Op) -> None:
        with self.lock:
            self._frames_so_far()  # kept in order: the frames tracked before this message
            self.ops.append(op)
            full = len(self.ops) >= BATCH
        if full:
            self.flush()

    def frame(self, persons: int) -> None:
        with self.lock:
            self.frames, self.persons = self.frames + 1, persons
            due = self.frames >= BATCH
        if due:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            self._frames_so_far()
            ops, self.ops = self.ops, []
        if ops:
            self.send(ops)

    def _frames_so_far(self) -> None:
        if self.frames:
            self.ops.append(("frames", self.frames, self.persons))
            self.frames = 0


class RecordingAllocator:
    """Provisional folders, numbered per video; the owner gives them their person ids."""

    def __init__(self) -> None:
        self.count = 0

    def create_folder(self) -> tuple[int, Path]:
        self.count += 1
        return self.count, Path(f"{PROVISIONAL}{self.count}")


def _provisional(folder: Path) -> int:
    return int(Path(folder).name.removeprefix(PROVISIONAL))


class RecordingWriter:
    """``CropWriter``'s interface, recording instead of writing; crops are encoded here, in the worker."""

    def __init__(self, outbox: Outbox, jpeg_quality: int) -> None:
        self.outbox = outbox
        self.jpeg_quality = jpeg_quality

    def save_jpeg(self, path: Path, image: np.ndarray) -> None:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise OutputError(f"JPEG encoding failed for {path.name}")
        self.outbox.add(("save", _provisional(path.parent), path.name, encoded.tobytes()))

    def delete(self, path: Path) -> None:
        self.outbox.add(("delete", _provisional(path.parent), path.name))

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        if function is not write_track_metadata:
            raise TypeError(f"a worker cannot send {function.__name__}")
        folder, metadata = args
        self.outbox.add(("metadata", _provisional(folder), metadata))

    def check(self) -> None:
        pass


class RecordingProgress:
    """What the tracking loop reports (``RunProgress``'s interface), sent to the owner."""

    def __init__(self, outbox: Outbox, video: str = "") -> None:
        self.outbox = outbox
        self.errors = ErrorLog()
        self.video = video  # its file name, for the fault points of the tests
        self.frames = 0

    def persons_so_far(self, persons_in_video: int) -> int:
        return persons_in_video

    def frame_done(self, persons: int, live: VideoResult | None = None) -> None:
        self.frames += 1
        fault_point(f"worker-frame:{self.video}:{self.frames}")  # tests kill a worker here
        self.outbox.frame(persons)

    def problem(self, path: Path | str, message: str, *, failed: VideoResult | None = None) -> None:
        if failed is not None:
            failed.state, failed.error = "failed", message
        else:
            self.outbox.add(("problem", message))
        self.errors.add(str(path), message)


OWNER_FIELDS = ("video", "replaced", "note", "earlier_persons")  # what the owner knows of a video better


def result_fields(result: VideoResult) -> dict[str, Any]:
    """What the owner needs of a worker's result: what tracking found."""
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name not in OWNER_FIELDS}


def track_task(
    task: VideoTask,
    config: TrackingConfig,
    tracker: Any,
    send: Callable[[list[Op]], None],
    stop: threading.Event | None = None,
) -> None:
    """In a worker: track ``task``'s video, sending every message through ``send``; the last one is
    ``done`` or ``failed``. ``stop``, when set, ends a live source as done."""
    from .run import TrackingRun  # the run imports this module's owner side

    outbox = Outbox(send)
    result = VideoResult(video=task.video, state="running", live=task.info is None)
    try:
        run = TrackingRun(config, tracker, Path("."), reporter=None, model_name=task.context.model)
        run.context = task.context
        run.allocator = RecordingAllocator()
        run.progress = RecordingProgress(outbox, Path(str(task.video)).name)
        watcher = _stop_watcher(stop, run)
        try:
            run._process_video(task.info, task.fingerprint, result, RecordingWriter(outbox, config.jpeg_quality), False)
        finally:
            if watcher is not None:
                watcher.set()
        if result.state == "running":
            result.state = "done"
        outbox.add(("done", result_fields(result)))
    except BaseException as exc:  # the owner reports it; the worker goes on with its next video
        log.debug("tracking %s failed in the worker", task.video, exc_info=True)
        outbox.add(("failed", f"{task.video}: {type(exc).__name__}: {exc}" if str(exc) else str(task.video)))
        if not isinstance(exc, Exception):
            outbox.flush()
            raise
    outbox.flush()


def _stop_watcher(stop: threading.Event | None, run: Any) -> threading.Event | None:
    """A thread that calls ``run.stop()`` once ``stop`` is set (``stop`` may be another process's event)."""
    if stop is None:
        return None
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if stop.wait(0.2):
                run.stop()
                return

    NamedThread(target=watch, name="stop-watcher", daemon=True).start()
    return done


class FolderOwner:
    """The owner's side: real folders for provisional ones, every file written by ``writer``."""

    def __init__(self, allocator: IdAllocator, writer: CropWriter) -> None:
        self.allocator = allocator
        self.writer = writer
        self.folders: dict[tuple[int, int], tuple[int, Path]] = {}  # (video, provisional) -> id, folder

    def folder(self, video: int, provisional: int) -> tuple[int, Path]:
        key = (video, provisional)
        if key not in self.folders:
            self.folders[key] = self.allocator.create_folder()
        return self.folders[key]

    def person_id(self, video: int, provisional: int) -> int:
        return self.folder(video, provisional)[0]

    def apply(self, video: int, op: Op) -> None:
        """Carry out one file message of video number ``video``."""
        kind = op[0]
        if kind == "save":
            _, folder = self.folder(video, op[1])
            self.writer.call(_write_crop, folder / op[2], op[3])
        elif kind == "delete":
            _, folder = self.folder(video, op[1])
            self.writer.delete(folder / op[2])
        elif kind == "metadata":
            person_id, folder = self.folder(video, op[1])
            self.writer.call(write_track_metadata, folder, {**op[2], "person_id": person_id})
        else:
            raise ValueError(f"not a file message: {kind}")
        self.writer.check()


def _write_crop(path: Path, jpeg: bytes) -> None:
    atomic_write_bytes(path, jpeg, durable=False)  # as CropWriter writes its own crops
