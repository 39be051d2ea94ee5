"""The tracks step: what follows the model call for each frame, in order, on the tracking thread
(``pipeline.InOrder``): the tracker, the MOT file, the crops (``tracks.TrackBook``), the annotated
copy, progress and checkpoints of ``track.json``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .annotate import NoAnnotation, VideoAnnotator
from .detections import boxes_between
from .gate import BETWEEN, DETECT, TRACKS_BEHIND, TRACKS_KEPT, Tracks
from .live import LiveReader
from .mot import MotFile, NoMotFile
from .pipeline import InOrder, output_of, stages_of
from .progress import VideoResult
from .tracks import TrackBook


class Progress(Protocol):
    """What the tracking of a video reports (``progress.RunProgress``, or a worker's messages)."""

    def persons_so_far(self, persons_in_video: int) -> int: ...
    def frame_done(self, persons: int, live: VideoResult | None = None) -> None: ...
    def problem(self, path: Any, message: str, *, failed: VideoResult | None = None) -> None: ...


class AfterDetection:
    """What follows the model call for each frame, in order, on the tracking thread."""

    def __init__(
        self,
        tracker: Any,
        progress: Progress,
        result: VideoResult,
        book: TrackBook,
        annotator: NoAnnotation | VideoAnnotator,
        mot: NoMotFile | MotFile,
        live: LiveReader | None = None,
    ) -> None:
        self.tracker, self.stages, self.progress = tracker, stages_of(tracker), progress
        self.result, self.book, self.annotator, self.mot, self.live = result, book, annotator, mot, live
        self.checkpoint_s = book.config.metadata_interval_s
        self.detections: Sequence[Any] = []
        self.between: list[tuple[int, np.ndarray]] = []  # frames left between detections, waiting for the next
        self.last_index = -1  # the last frame handled that was not between
        self.tracks_by_position: dict[int, Tracks] = {}  # the last few frames' (the gate asks for them)
        self.last_checkpoint = time.monotonic()
        self.tracked = 0

    def tracks_before(self, position: int, worker: InOrder, back: int = TRACKS_BEHIND) -> Tracks:
        """What the tracker held once it had seen the frame ``back`` frames before ``position`` (counted
        from 0 in this video; before the first, nothing); waits for the worker to get there."""
        seen = position - back
        if seen < 0:
            return Tracks()
        worker.wait_for(seen + 1)
        return self.tracks_by_position[seen]

    def handle(self, item: tuple[int, int, np.ndarray, str, Any]) -> None:
        position, index, frame, decision, detected = item
        if decision != DETECT and hasattr(self.tracker, "hold"):
            self.tracker.hold()  # the video's time passes for the tracker too
        if decision == BETWEEN:  # it waits for the next detection, the other end of its boxes
            self._note_tracks(position)
            self.between.append((index, frame))
            return
        before = self.detections
        if decision == DETECT:
            prepared, output = output_of(detected)
            self.detections = self.stages.track(frame, prepared, output)
        self._note_tracks(position)
        # REPEAT, SKIP: a frame just like the last one shows the same people where they were (nobody,
        # where the tracker holds no track); the tracker is not asked (it would take the frame for no
        # motion and drift from walking people's paths)
        self.finish(before, index)
        self._frame_done(index, frame, self.detections)
        self.last_index = index

    def finish(self, before: Sequence[Any] = (), index: int | None = None) -> None:
        """The frames left between two detections (``gate.BETWEEN``), once the frame at ``index`` is
        tracked: each with the tracks found before them (``before``) and now, at that share of the
        way. At the end of a video (no ``index``), with the last detections again."""
        pending, self.between = self.between, []
        for between_index, frame in pending:
            if index is None:
                detections = list(self.detections)
            else:
                share = (between_index - self.last_index) / (index - self.last_index)
                detections = boxes_between(before, self.detections, share)
            self._frame_done(between_index, frame, detections, crops=False)

    def _note_tracks(self, position: int) -> None:
        """What the tracker holds once the frame at ``position`` is handled (the gate may ask)."""
        self.tracks_by_position[position] = Tracks(
            idle=bool(getattr(self.tracker, "is_idle", False)),
            tentative=bool(getattr(self.tracker, "has_tentative", False)),
            boxes=[d.box for d in self.detections],
        )
        self.tracks_by_position.pop(position - TRACKS_KEPT, None)

    def _frame_done(self, index: int, frame: np.ndarray, detections: Sequence[Any], crops: bool = True) -> None:
        book, progress = self.book, self.progress
        for detection in detections:
            self.mot.add(index, detection.track_id, detection.box, detection.conf)
        labels = [(d.box, *book.observe(index, frame, d, crop=crops).label) for d in detections]
        persons = progress.persons_so_far(book.folders_created)
        self.annotator.add(frame, labels, f"persons: {persons}")
        book.flush_stale(index)
        book.writer.check()
        self.result.frames = index + 1
        if self.live is not None:  # frames tracked, not counting those dropped to keep up with the camera
            self.tracked += 1
            self.result.frames = self.tracked
            self.result.uptime_s, self.result.reconnects = self.live.uptime_s, self.live.reconnects
            self.result.dropped_frames = self.live.dropped
            self.result.fps = self.tracked / max(self.live.uptime_s, 1e-6)
        if time.monotonic() - self.last_checkpoint >= self.checkpoint_s:
            book.write_metadata(complete=False)
            self.last_checkpoint = time.monotonic()
        progress.frame_done(persons, self.result if self.live is not None else None)
