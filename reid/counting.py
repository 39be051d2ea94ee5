"""The tracking stage: videos -> tracked persons -> one folder of crops per track.

``CountingRun.run`` reads like the stage itself: check every video, then for each one
stream frames through the tracker, choose crops per track (``crops.TrackSampler``), hand
them to the background writer, and keep ``track.json`` and the ``counting`` section of
``status.json`` up to date. The detector is passed in, so this module does not import
ultralytics.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
from tqdm import tqdm

from .annotate import AnnotatedVideo, annotate_and_write
from .config import TrackingConfig
from .crops import Candidate, SamplerActions, TrackSampler, clip_box, crop_rejection
from .errors import InputError, OutputError, ReidError
from .persons import IdAllocator, crop_filename, prepare_persons_dir, write_track_metadata
from .status import SectionReporter, utc_now_iso
from .videos import FrameReader, VideoInfo, probe_video
from .writer import CropWriter

log = logging.getLogger(__name__)

MAX_STATUS_ERRORS = 100
# A video counts as truncated when it ends this many frames before its stated length
# (containers often state a count a frame or two off).
TRUNCATION_TOLERANCE = 0.01


class Tracker(Protocol):
    def start_video(self) -> None: ...
    def update(self, frame: np.ndarray) -> Sequence[Any]: ...  # items with track_id, box, conf


def new_run_id() -> str:
    """Names one run of the tracking stage; folders of one run and one video share it."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


@dataclass
class TrackRecord:
    """Everything known about one track of one video."""

    tracker_id: int
    sampler: TrackSampler
    person_id: int | None = None
    folder: Path | None = None
    first_frame: int = -1
    last_frame: int = -1
    frames_seen: int = 0
    segments: list[list[int]] = field(default_factory=list)  # runs of consecutive frames where it was seen
    crops: dict[int, dict[str, Any]] = field(default_factory=dict)
    dirty: bool = False

    def see(self, frame: int) -> None:
        if self.first_frame < 0:
            self.first_frame = frame
        self.last_frame = frame
        self.frames_seen += 1
        if self.segments and self.segments[-1][1] == frame - 1:
            self.segments[-1][1] = frame
        else:
            self.segments.append([frame, frame])
        self.dirty = True

    def to_metadata(self, info: VideoInfo, run: "RunContext", complete: bool) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "run_id": run.run_id,
            "video": str(info.path.resolve()),
            "video_name": info.path.name,
            "model": run.model,
            "tracker": run.config.tracker,
            "tracker_id": self.tracker_id,
            "fps": info.fps,
            "frame_size": [info.width, info.height],
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "first_time_s": round(self.first_frame / info.fps, 3),
            "last_time_s": round(self.last_frame / info.fps, 3),
            "frames_seen": self.frames_seen,
            "segments": [list(segment) for segment in self.segments],  # a copy: the writer thread serialises it later
            # False while the video is still being processed (a checkpoint) or if it was interrupted.
            "complete": complete,
            "crops": [dict(self.crops[frame]) for frame in sorted(self.crops)],
        }


@dataclass
class VideoResult:
    video: Path
    state: str = "pending"  # pending, running, done, failed
    persons: int = 0
    tracks: int = 0
    frames: int = 0
    crops: int = 0
    person_ids: list[int] = field(default_factory=list)
    error: str | None = None
    warning: str | None = None
    annotated: Path | None = None  # the annotated copy (--save-video)

    def to_status(self) -> dict[str, Any]:
        status = {"video": str(self.video), "state": self.state, "persons": self.persons, "tracks": self.tracks,
                  "frames": self.frames, "crops": self.crops, "error": self.error, "warning": self.warning}
        if self.annotated is not None:
            status["annotated"] = str(self.annotated)
        return status


@dataclass
class RunResult:
    run_id: str
    videos: list[VideoResult]
    seconds: float = 0.0

    @property
    def persons(self) -> int:
        return sum(v.persons for v in self.videos)

    @property
    def frames(self) -> int:
        return sum(v.frames for v in self.videos)

    @property
    def failed(self) -> list[VideoResult]:
        return [v for v in self.videos if v.state == "failed"]


@dataclass
class RunContext:
    run_id: str
    config: TrackingConfig
    model: str


class CountingRun:
    """One run of the tracking stage over a list of videos."""

    def __init__(self, config: TrackingConfig, tracker: Tracker, persons_dir: Path, reporter: SectionReporter,
                 model_name: str, show_progress: bool | None = None, annotated_dir: Path | None = None):
        self.config = config
        self.tracker = tracker
        self.persons_dir = Path(persons_dir)
        self.reporter = reporter
        self.context = RunContext(run_id=new_run_id(), config=config, model=model_name)
        self.show_progress = show_progress
        self.annotated_dir = annotated_dir  # where annotated copies of the videos go (None: no copies)
        self.allocator = IdAllocator(self.persons_dir)
        self.errors: list[dict[str, str]] = []
        self._frames_done = 0
        self._persons = 0
        self._started = 0.0

    def run(self, videos: Sequence[Path]) -> RunResult:
        self._started = time.monotonic()
        prepare_persons_dir(self.persons_dir)
        results = [VideoResult(video=Path(v)) for v in videos]
        infos = {r.video: self._probe(r) for r in results}
        frames_total = sum(self._frames_to_process(info) for info in infos.values() if info)
        self.reporter.start(run_id=self.context.run_id, persons_dir=str(self.persons_dir), videos_total=len(results),
                            videos_done=0, frames_total=frames_total, frames_done=0, fps=0.0, eta_s=None,
                            persons=0, current_video=None, videos=[r.to_status() for r in results], errors=self.errors)
        writer = CropWriter(self.config.jpeg_quality, self.config.write_queue_size)
        bar = tqdm(total=frames_total, unit="frame", disable=self._progress_disabled(), dynamic_ncols=True)
        try:
            for done, result in enumerate(results):
                info = infos[result.video]
                if info is not None:
                    self._process_video(info, result, writer, bar, results)
                self.reporter.update(force=True, videos_done=done + 1, videos=[r.to_status() for r in results],
                                     errors=self.errors)
        finally:
            bar.close()
            writer.close()  # also after an error or Ctrl-C: what was queued still reaches the disk
        return RunResult(self.context.run_id, results, time.monotonic() - self._started)

    # -- steps -------------------------------------------------------------------------

    def _probe(self, result: VideoResult) -> VideoInfo | None:
        try:
            info = probe_video(result.video)
        except (InputError, OSError) as exc:
            self._fail(result, str(exc) if isinstance(exc, InputError) else f"{result.video}: {exc.strerror or exc}")
            return None
        if info.width < self.config.min_crop_width or info.height < self.config.min_crop_height:
            log.warning("%s is only %dx%d: smaller than the minimum crop, no person can be saved",
                        result.video, info.width, info.height)
        return info

    def _frames_to_process(self, info: VideoInfo) -> int:
        if self.config.max_frames and (not info.frame_count or info.frame_count > self.config.max_frames):
            return self.config.max_frames
        return info.frame_count

    def _process_video(self, info: VideoInfo, result: VideoResult, writer: CropWriter, bar: tqdm,
                       results: list[VideoResult]) -> None:
        log.info("tracking persons in %s (%dx%d, %.1f fps, %d frames)", info.path, info.width, info.height, info.fps,
                 info.frame_count)
        result.state = "running"
        self.reporter.update(force=True, current_video=str(info.path), videos=[r.to_status() for r in results])
        tracks: dict[int, TrackRecord] = {}
        complete = False
        annotated = None
        try:
            if self.annotated_dir is not None:
                annotated = AnnotatedVideo(self.annotated_dir, info.path, info.fps, (info.width, info.height))
            self._track_frames(info, result, writer, bar, tracks, annotated)
            complete = True
        except OutputError:
            raise  # the disk is the problem, not this video: stop the run
        except ReidError as exc:
            self._fail(result, str(exc))
        except Exception as exc:  # one broken video must not stop the others; the detail goes to the debug log
            log.debug("processing %s failed", info.path, exc_info=True)
            self._fail(result, f"{info.path}: processing failed: {exc}")
        finally:
            # also on failure or Ctrl-C: every folder made gets its chosen crops and its metadata
            for record in tracks.values():
                self._apply(record, self._finish_track(record), info, writer)
            self._write_metadata(tracks, info, writer, complete=complete)
            if annotated is not None:
                writer.call(lambda: setattr(result, "annotated", annotated.close()))
        folders = [r for r in tracks.values() if r.folder is not None]
        result.persons = len(folders)
        result.person_ids = sorted(r.person_id for r in folders)
        result.tracks = len(tracks)
        result.crops = sum(len(r.crops) for r in folders)
        if result.state == "running":
            result.state = "done"
        log.info("%s: %d persons (%d tracks, %d crops, %d frames)", info.path.name, result.persons, result.tracks,
                 result.crops, result.frames)

    def _track_frames(self, info: VideoInfo, result: VideoResult, writer: CropWriter, bar: tqdm,
                      tracks: dict[int, TrackRecord], annotated: AnnotatedVideo | None = None) -> None:
        """The frame loop: track, choose crops, write them, report progress."""
        self.tracker.start_video()
        window = max(1, round(self.config.crop_interval_s * info.fps))
        pending: dict[int, TrackRecord] = {}  # tracks holding an unsaved best crop
        last_checkpoint = time.monotonic()
        with FrameReader(info.path, self.config.max_frames) as reader:
            for index, frame in reader:
                detections = self.tracker.update(frame)
                for detection in detections:
                    record = tracks.get(detection.track_id)
                    if record is None:
                        record = tracks[detection.track_id] = TrackRecord(
                            detection.track_id, TrackSampler(self.config.max_crops, window))
                    self._observe(record, index, frame, detection, info, writer)
                    if record.sampler.has_pending:
                        pending[detection.track_id] = record
                if annotated is not None:
                    boxes = [(d.box, *self._label(tracks[d.track_id])) for d in detections]
                    writer.call(annotate_and_write, annotated, frame, boxes, f"persons: {self._persons}")
                self._flush_stale(pending, index, info, writer)
                writer.check()
                result.frames = index + 1
                self._frames_done += 1
                bar.update(1)
                if time.monotonic() - last_checkpoint >= self.config.metadata_interval_s:
                    self._write_metadata(tracks, info, writer, complete=False)
                    last_checkpoint = time.monotonic()
                self._report_progress(bar)
        if reader.error:
            raise InputError(f"{info.path}: {reader.error}")
        self._check_length(info, result)

    @staticmethod
    def _label(record: TrackRecord) -> tuple[str, bool]:
        """How a box is labelled in the annotated video: its person folder, once it has one."""
        if record.person_id is not None:
            return f"id_{record.person_id}", True
        return f"track {record.tracker_id}", False

    def _observe(self, record: TrackRecord, index: int, frame: np.ndarray, detection: Any, info: VideoInfo,
                 writer: CropWriter) -> None:
        record.see(index)
        cfg = self.config
        if detection.conf < cfg.conf:
            return
        if crop_rejection(detection.box, info.width, info.height, min_width=cfg.min_crop_width,
                          min_height=cfg.min_crop_height, edge_margin=cfg.edge_margin,
                          keep_edge_crops=cfg.keep_edge_crops):
            return
        x1, y1, x2, y2 = clip_box(detection.box, info.width, info.height)
        # copy: the crop must outlive the frame buffer
        candidate = Candidate(index, detection.conf, ((x1, y1, x2, y2), frame[y1:y2, x1:x2].copy()))
        actions = record.sampler.offer(candidate, may_save=record.frames_seen >= cfg.min_track_frames)
        self._apply(record, actions, info, writer)

    def _flush_stale(self, pending: dict[int, TrackRecord], index: int, info: VideoInfo,
                     writer: CropWriter) -> None:
        """Write out the pending crop of tracks not seen for a while, so memory does not hold
        one crop per track for the rest of a long video."""
        for track_id in [t for t, r in pending.items() if index - r.last_frame > self.config.stale_after_frames]:
            record = pending.pop(track_id)
            self._apply(record, self._finish_track(record), info, writer)

    def _finish_track(self, record: TrackRecord) -> SamplerActions:
        if record.frames_seen >= self.config.min_track_frames:
            return record.sampler.flush()
        record.sampler.discard_pending()  # too short to be a person: no folder
        return SamplerActions()

    def _apply(self, record: TrackRecord, actions: SamplerActions, info: VideoInfo, writer: CropWriter) -> None:
        for candidate in actions.save:
            if record.folder is None:
                record.person_id, record.folder = self.allocator.create_folder()
                self._persons += 1
            box, crop = candidate.payload
            name = crop_filename(info.path, candidate.frame)
            writer.save_jpeg(record.folder / name, crop)
            record.crops[candidate.frame] = {"file": name, "frame": candidate.frame, "box": list(box),
                                             "conf": round(candidate.score, 4)}
            record.dirty = True
        for frame in actions.delete:
            entry = record.crops.pop(frame)
            writer.delete(record.folder / entry["file"])
            record.dirty = True

    def _write_metadata(self, tracks: dict[int, TrackRecord], info: VideoInfo, writer: CropWriter,
                        complete: bool) -> None:
        for record in tracks.values():
            if record.folder is not None and (record.dirty or complete):
                # queued behind the crops it lists, so it never names a file not yet written
                writer.call(write_track_metadata, record.folder, record.to_metadata(info, self.context, complete))
                record.dirty = False

    def _check_length(self, info: VideoInfo, result: VideoResult) -> None:
        expected = self._frames_to_process(info)
        if expected and result.frames < expected * (1 - TRUNCATION_TOLERANCE) - 1:
            result.warning = (f"{info.path}: ended after {result.frames} of {expected} frames "
                              f"(the file is truncated or damaged)")
            log.warning("%s", result.warning)
            self._record_error(str(info.path), result.warning)

    def _report_progress(self, bar: tqdm) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        fps = self._frames_done / elapsed
        remaining = max(0, (bar.total or 0) - self._frames_done)
        bar.set_postfix(persons=self._persons, refresh=False)
        self.reporter.update(frames_done=self._frames_done, fps=round(fps, 2), persons=self._persons,
                             eta_s=round(remaining / fps, 1) if fps > 0 else None)

    def _fail(self, result: VideoResult, message: str) -> None:
        result.state = "failed"
        result.error = message
        log.error("%s", message)
        self._record_error(str(result.video), message)

    def _record_error(self, path: str, message: str) -> None:
        self.errors.append({"time": utc_now_iso(), "path": path, "message": message})
        del self.errors[:-MAX_STATUS_ERRORS]

    def _progress_disabled(self) -> bool | None:
        if self.show_progress is None:
            return None  # tqdm decides: shown on a terminal only
        return not self.show_progress
