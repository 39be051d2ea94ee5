"""Tracking one video into person folders: what a serial run does for each of its videos and a
worker for each video it is given (``remote.py``), through the same small interface.

``TrackingJob`` holds what every video of a run shares: the settings, the tracker, the run's
context, where folders come from (``allocator``), where files go (``writer``) and where progress
goes (``progress``). A serial run passes the persons folder's own; a worker passes recording ones
that turn all of it into messages for the owner.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..core.config import TrackingConfig
from ..core.errors import InputError, OutputError, ReidError
from .after_detection import AfterDetection, Progress
from .annotate import annotator_for
from .frames import track_frames
from .live import LiveReader
from .mot import mot_file_for
from .progress import VideoResult
from .sources import Source
from .tracks import RunContext, TrackBook
from .videos import VideoInfo

log = logging.getLogger(__name__)


class Tracker(Protocol):
    def start_video(self) -> None: ...
    def update(self, frame: np.ndarray) -> Sequence[Any]: ...  # items with track_id, box, conf


class Allocator(Protocol):
    def create_folder(self, metadata: dict[str, Any] | None = None) -> tuple[int, Path]: ...


class Writer(Protocol):
    def save_jpeg(self, path: Path, image: np.ndarray) -> None: ...
    def delete(self, path: Path) -> None: ...
    def call(self, function: Callable[..., Any], *args: Any) -> None: ...
    def check(self) -> None: ...


class TrackingJob:
    """Tracks videos one at a time into folders from ``allocator``, files through ``writer``."""

    def __init__(
        self,
        config: TrackingConfig,
        tracker: Tracker,
        context: RunContext,
        allocator: Allocator,
        writer: Writer,
        progress: Progress,
        annotated_dir: Path | None = None,
        mot_dir: Path | None = None,
    ) -> None:
        self.config, self.tracker, self.context = config, tracker, context
        self.allocator, self.writer, self.progress = allocator, writer, progress
        self.annotated_dir = annotated_dir  # where annotated copies of the videos go (None: no copies)
        self.mot_dir = mot_dir  # where MOTChallenge files of the tracks go (None: none)
        self.stopping = threading.Event()
        self.live: LiveReader | None = None  # the live source being read, for stop()

    def stop(self) -> None:
        """End the live source being tracked as done (its folders complete). Safe from a signal handler."""
        self.stopping.set()
        live = self.live
        if live is not None:
            live.stop()

    @contextlib.contextmanager
    def opened(self, result: VideoResult, info: VideoInfo | None) -> Iterator[VideoInfo | None]:
        """The video's ``info``; for a live source (``result.live``), the source opened for the block and
        its info, or None when it cannot be opened (``result`` then failed: one dead camera does not
        stop the others)."""
        if not result.live:
            yield info
            return
        source: Source = result.video  # type: ignore[assignment]
        try:
            live = LiveReader(source, self.config.duration_s, self.config.give_up_s).__enter__()
        except InputError as exc:
            self.progress.problem(result.video, str(exc), failed=result)
            yield None
            return
        self.live = live
        try:
            if self.stopping.is_set():  # stopped while it was being opened
                live.stop()
            yield live.info
        finally:
            self.live = None
            live.__exit__(None, None, None)

    def track(self, info: VideoInfo, video_fingerprint: str, result: VideoResult) -> None:
        """Track one video into its folders and ``result``. A failed video is reported in ``result``
        (the others go on); a full or unwritable disk (``OutputError``) and Ctrl-C stop the run. Either
        way every folder gets its chosen crops and its ``track.json``."""
        book = TrackBook(info, self.context, self.allocator, self.writer, video_fingerprint)
        complete = False
        annotator = mot = None
        try:
            annotator = annotator_for(self.annotated_dir, info.path, info.fps, (info.width, info.height), self.writer)
            mot = mot_file_for(self.mot_dir, info.path)
            after = AfterDetection(self.tracker, self.progress, result, book, annotator, mot, self.live)
            track_frames(info, self.config, after, self.progress)
            complete = True
        except OutputError:
            raise  # the disk is the problem, not this video: stop the run
        except ReidError as exc:
            self.progress.problem(result.video, str(exc), failed=result)
        except Exception as exc:  # one broken video must not stop the others; the detail goes to the debug log
            log.debug("processing %s failed", result.video, exc_info=True)
            self.progress.problem(result.video, f"{result.video}: processing failed: {exc}", failed=result)
        finally:
            book.finish(complete)  # also on failure or Ctrl-C: every folder gets its crops and its metadata
            if annotator is not None:
                annotator.finish(lambda path: setattr(result, "annotated", path))
            if mot is not None:
                result.mot_file = mot.finish({r.tracker_id: r.person_id for r in book.persons})
        record(result, book)


def record(result: VideoResult, book: TrackBook) -> None:
    """What tracking made of the video, into ``result``."""
    persons = book.persons
    outcome = book.outcome()
    result.persons = len(persons)
    result.person_ids = sorted(r.person_id for r in persons)
    result.tracks, result.too_short, result.min_frames = outcome["tracks"], outcome["too_short"], book.min_frames
    result.not_confident, result.low_resolution = outcome["not_confident"], outcome["low_resolution_folders"]
    result.crops = sum(len(r.crops) for r in persons)
    if result.state == "running":
        result.state = "done"
    log.info(
        "%s: %d persons (%d tracks, %d too short, %d not confident; %d crops, %d frames)",
        result.video.label if result.live else result.video.name,
        result.persons,
        result.tracks,
        result.too_short,
        result.not_confident,
        result.crops,
        result.frames,
    )
