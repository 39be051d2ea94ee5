"""A worker's side of ``--workers`` and ``--ray``: a video tracked away from the persons folder.

A worker (another process, or a Ray task on another machine) tracks a video exactly as a serial run
does (``job.TrackingJob``: the same detector, tracker and choice of crops), but its allocator,
writer and progress only record what they would do: crops (JPEG-encoded where they are cut),
deletions, ``track.json`` documents and frames, under provisional folder numbers, as messages
(``messages.py``) for the one process that owns the persons folder (``owner.py``). So ids stay
unique and no worker needs the persons folder, or even the same file system.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..core.config import TrackingConfig
from ..core.errors import OutputError
from ..core.status import ErrorLog
from ..core.threads import NamedThread
from ..core.track_metadata import write_track_metadata
from ..merging.faults import fault_point
from .job import TrackingJob
from .messages import (
    BATCH,
    DeleteCrop,
    FramesDone,
    Message,
    Problem,
    SaveCrop,
    VideoDone,
    VideoFailed,
    VideoTask,
    WriteMetadata,
    result_fields,
)
from .progress import VideoResult

log = logging.getLogger(__name__)

PROVISIONAL = "provisional-"  # the name of a worker's folder until the owner gives it a person id


class Outbox:
    """Collects a worker's messages and sends them in batches (``send`` may be a pipe's send)."""

    def __init__(self, send: Callable[[list[Message]], None]) -> None:
        self.send = send
        self.messages: list[Message] = []
        self.frames = 0  # frames tracked since the last batch, sent as one message
        self.persons = 0
        self.lock = threading.Lock()  # the tracking thread and the writer's caller both add

    def add(self, message: Message) -> None:
        with self.lock:
            self._frames_so_far()  # kept in order: the frames tracked before this message
            self.messages.append(message)
            full = len(self.messages) >= BATCH
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
            messages, self.messages = self.messages, []
        if messages:
            self.send(messages)

    def _frames_so_far(self) -> None:
        if self.frames:
            self.messages.append(FramesDone(self.frames, self.persons))
            self.frames = 0


def _provisional(folder: Path) -> int:
    return int(Path(folder).name.removeprefix(PROVISIONAL))


class RecordingAllocator:
    """Provisional folders, numbered per video; the owner gives them their person ids. A folder's
    first ``track.json`` goes out before anything else of it."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.count = 0

    def create_folder(self, metadata: dict[str, Any] | None = None) -> tuple[int, Path]:
        self.count += 1
        if metadata is not None:
            self.outbox.add(WriteMetadata(self.count, metadata))
        return self.count, Path(f"{PROVISIONAL}{self.count}")


class RecordingWriter:
    """``CropWriter``'s interface, recording instead of writing; crops are encoded here, in the worker."""

    def __init__(self, outbox: Outbox, jpeg_quality: int) -> None:
        self.outbox = outbox
        self.jpeg_quality = jpeg_quality

    def save_jpeg(self, path: Path, image: np.ndarray) -> None:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise OutputError(f"JPEG encoding failed for {path.name}")
        self.outbox.add(SaveCrop(_provisional(path.parent), path.name, encoded.tobytes()))

    def delete(self, path: Path) -> None:
        self.outbox.add(DeleteCrop(_provisional(path.parent), path.name))

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        if function is not write_track_metadata:
            raise TypeError(f"a worker cannot send {function.__name__}")
        folder, metadata = args
        self.outbox.add(WriteMetadata(_provisional(folder), metadata))

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
            self.outbox.add(Problem(message))
        self.errors.add(str(path), message)


def track_task(
    task: VideoTask,
    config: TrackingConfig,
    tracker: Any,
    send: Callable[[list[Message]], None],
    stop: Any = None,
) -> None:
    """In a worker: track ``task``'s video, sending every message through ``send``; the last one is
    ``VideoDone`` or ``VideoFailed``. ``stop`` (a ``threading.Event``-like, possibly another
    process's), once set, ends a live source as done."""
    outbox = Outbox(send)
    result = VideoResult(video=task.video, state="running", live=task.info is None)
    try:
        allocator, writer = RecordingAllocator(outbox), RecordingWriter(outbox, config.jpeg_quality)
        progress = RecordingProgress(outbox, Path(str(task.video)).name)
        job = TrackingJob(config, tracker, task.context, allocator, writer, progress)
        watcher = _stop_watcher(stop, job)
        try:
            with job.opened(result, task.info) as info:
                if info is not None:
                    job.track(info, task.fingerprint, result)
        finally:
            if watcher is not None:
                watcher.set()
        if result.state == "running":
            result.state = "done"
        outbox.add(VideoDone(result_fields(result)))
    except BaseException as exc:  # the owner reports it; the worker goes on with its next video
        log.debug("tracking %s failed in the worker", task.video, exc_info=True)
        outbox.add(VideoFailed(f"{task.video}: {type(exc).__name__}: {exc}" if str(exc) else str(task.video)))
        if not isinstance(exc, Exception):
            outbox.flush()
            raise
    outbox.flush()


def _stop_watcher(stop: Any, job: TrackingJob) -> threading.Event | None:
    """A thread that calls ``job.stop()`` once ``stop`` is set; returns the event that ends it."""
    if stop is None:
        return None
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if stop.wait(0.2):
                job.stop()
                return

    NamedThread(target=watch, name="stop-watcher", daemon=True).start()
    return done
