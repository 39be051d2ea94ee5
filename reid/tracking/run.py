"""The tracking stage: videos -> tracked persons -> one folder of crops per track.

``TrackingRun.run`` reads like the stage itself: check every video, then for each one stream
frames through the tracker into the video's track book (``tracks.py``), which chooses crops
and hands them to the background writer, while ``progress.py`` keeps the progress bar and
the ``counting`` section of ``status.json`` up to date. The tracker is passed in, so this
module does not import ultralytics.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..core.config import TrackingConfig
from ..core.errors import InputError, OutputError, ReidError
from ..core.persons import IdAllocator, prepare_persons_dir
from ..core.status import SectionReporter, utc_now_iso
from .annotate import NoAnnotation, VideoAnnotator, annotator_for
from .between import boxes_between
from .gate import BETWEEN, DETECT, TRACKS_BEHIND, TRACKS_KEPT, Tracks, gate_for
from .live import LiveReader
from .mot import MotFile, NoMotFile, mot_file_for
from .pipeline import Detecting, InOrder, output_of, stages_of
from .progress import RunProgress, RunResult, VideoResult
from .registry import VideoRegistry, covers, fingerprint, folders_of, set_aside, still_running
from .remote import FolderOwner, Op, VideoTask
from .sources import Source
from .tracks import RunContext, TrackBook
from .videos import FrameReader, VideoInfo, probe_video
from .writer import CropWriter

log = logging.getLogger(__name__)

# A video counts as truncated when it ends this many frames before its stated length
# (containers often state a count a frame or two off).
TRUNCATION_TOLERANCE = 0.01


class Pool(Protocol):
    """Workers that track videos away from this process (``workers.ProcessPool``, ``cluster.RayPool``)."""

    def submit(self, task: VideoTask) -> None: ...
    def results(self) -> Iterator[tuple[int, list[Op]]]: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


class Tracker(Protocol):
    def start_video(self) -> None: ...
    def update(self, frame: np.ndarray) -> Sequence[Any]: ...  # items with track_id, box, conf


def is_live(video: Path | Source) -> bool:
    return isinstance(video, Source) and video.is_live


def as_path(video: Path | Source) -> Path:
    return video.path if isinstance(video, Source) else Path(video)


def new_run_id() -> str:
    """Names one run of the tracking stage; folders of one run and one video share it."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


class TrackingRun:
    """One run of the tracking stage over a list of videos."""

    def __init__(
        self,
        config: TrackingConfig,
        tracker: Tracker,
        persons_dir: Path,
        reporter: SectionReporter,
        model_name: str,
        show_progress: bool | None = None,
        annotated_dir: Path | None = None,
        mot_dir: Path | None = None,
        reprocess: bool = False,
        pool: Callable[[int], Pool] | None = None,
    ) -> None:
        self.config = config
        self.tracker = tracker
        self.persons_dir = Path(persons_dir)
        self.reporter = reporter
        self.context = RunContext(run_id=new_run_id(), config=config, model=model_name)
        self.show_progress = show_progress
        self.annotated_dir = annotated_dir  # where annotated copies of the videos go (None: no copies)
        self.mot_dir = mot_dir  # where MOTChallenge files of the tracks go (None: none)
        self.reprocess = reprocess  # process videos done before again, replacing their folders
        self.allocator = IdAllocator(self.persons_dir)
        self.registry = VideoRegistry(self.persons_dir)
        self.progress: RunProgress | None = None
        self.stopping = threading.Event()
        self._live: LiveReader | None = None  # the live source being read, for stop()
        self.make_pool = pool  # workers that track the videos (--workers, --ray); None: this process
        self._pool: Pool | None = None

    @property
    def live_now(self) -> bool:
        """Whether a live source is being tracked right now."""
        if self._pool is not None and self.progress is not None:
            return any(r.live and r.state == "running" for r in self.progress.results)
        return self._live is not None

    def stop(self) -> None:
        """End the live source being tracked as done (its folders complete), and start no other video.
        Safe from a signal handler."""
        self.stopping.set()
        live, pool = self._live, self._pool
        if live is not None:
            live.stop()
        if pool is not None:
            pool.stop()

    @property
    def errors(self) -> list[dict[str, str]]:
        return self.progress.errors.entries if self.progress else []

    def run(self, videos: Sequence[Path | Source]) -> RunResult:
        """Track every video and live source in turn; ``stop()`` (from a signal handler) ends the live
        source being tracked as done, and no further one starts."""
        prepare_persons_dir(self.persons_dir)
        results = [VideoResult(video=v, live=True) if is_live(v) else VideoResult(video=as_path(v)) for v in videos]
        self.progress = progress = RunProgress(self.reporter, results, self.show_progress)
        # a live source is opened when its turn comes (it may be down now and up then)
        infos = {r.video: None if r.live else self._probe(r) for r in results}
        fingerprints: dict[Path | Source, str | None] = {}
        for result in (r for r in results if r.live or infos[r.video] is not None):
            fingerprints[result.video] = self._admit(result, fingerprints)
        todo = [r for r in results if fingerprints.get(r.video) and not r.live]
        frames_total = sum(self._frames_to_process(infos[r.video]) for r in todo)
        progress.start(self.context.run_id, self.persons_dir, frames_total, device=self.config.device)
        writer = CropWriter(self.config.jpeg_quality, self.config.write_queue_size)
        try:
            if self.make_pool is not None:
                self._track_in_pool(results, infos, fingerprints, writer)
                return RunResult(self.context.run_id, results, progress.seconds)
            for done, result in enumerate(results, 1):
                if self.stopping.is_set() and fingerprints.get(result.video):
                    result.state, result.note = "skipped", "the run was stopped before its turn"
                elif fingerprints.get(result.video):
                    self._process_video(infos[result.video], fingerprints[result.video], result, writer)
                progress.video_ended(done, result.persons)
        finally:
            progress.close()
            writer.close()  # also after an error or Ctrl-C: what was queued still reaches the disk
        return RunResult(self.context.run_id, results, progress.seconds)

    def _track_in_pool(
        self,
        results: list[VideoResult],
        infos: dict[Path | Source, VideoInfo | None],
        fingerprints: dict[Path | Source, str | None],
        writer: CropWriter,
    ) -> None:
        """Every admitted video tracked by the pool's workers at once; this process, the owner of the
        persons folder, writes what they send (``remote.py``) and keeps the registry and the status."""
        owner, done = FolderOwner(self.allocator, writer), 0
        admitted = sum(1 for r in results if fingerprints.get(r.video))
        if not admitted:  # every video skipped or failed already: no worker to start
            for done, result in enumerate(results, 1):
                self.progress.video_ended(done, result.persons)
            return
        self._pool = pool = self.make_pool(admitted)
        try:
            for index, result in enumerate(results):
                fingerprint = fingerprints.get(result.video)
                if fingerprint and self._begin_video(infos[result.video], fingerprint, result):
                    pool.submit(VideoTask(index, result.video, infos[result.video], fingerprint, self.context))
                else:
                    done += 1
                    self.progress.video_ended(done, result.persons)
            for index, ops in pool.results():
                result = results[index]
                for op in ops:
                    if op[0] == "frames":
                        for _ in range(op[1]):
                            self.progress.frame_done(len(owner.folders), result if result.live else None)
                    elif op[0] == "problem":
                        self.progress.problem(result.video, op[1])
                    elif op[0] in ("done", "failed"):
                        if op[0] == "done":
                            fields = {**op[1], "person_ids": [owner.person_id(index, p) for p in op[1]["person_ids"]]}
                            for name, value in fields.items():
                                setattr(result, name, value)
                        else:
                            self.progress.problem(result.video, op[1], failed=result)
                        self._end_video(fingerprints[result.video], result)
                        done += 1
                        self.progress.video_ended(done, result.persons)
                    else:
                        owner.apply(index, op)
        finally:
            self._pool = None
            pool.close()

    def _probe(self, result: VideoResult) -> VideoInfo | None:
        try:
            info = probe_video(result.video)
        except (InputError, OSError) as exc:
            message = str(exc) if isinstance(exc, InputError) else f"{result.video}: {exc.strerror or exc}"
            self.progress.problem(result.video, message, failed=result)
            return None
        if info.width < self.config.min_crop_width or info.height < self.config.min_crop_height:
            log.warning(
                "%s is only %dx%d: smaller than the preferred crop, so every person's crops are low resolution",
                result.video,
                info.width,
                info.height,
            )
        return info

    def _admit(self, result: VideoResult, admitted: dict[Path | Source, str | None]) -> str | None:
        """The video's fingerprint if it is to be processed; None (and the reason in ``result``)
        when this persons folder has it already, another run is processing it now, or it is a
        copy of a video ``admitted`` earlier in this run. A live source is new every run: its
        fingerprint names the source and the run."""
        if result.live:
            source = result.video.address_digest
            copy_of = next((video for video, fp in admitted.items() if fp and source in fp), None)
            if copy_of is None:
                return f"live-{source}-{self.context.run_id}"
            result.state, result.note = "skipped", f"the same source as {copy_of}"
            log.info("%s: skipped, %s", result.video, result.note)
            return None
        try:
            video_fingerprint = fingerprint(result.video)
        except OSError as exc:
            self.progress.problem(result.video, f"{result.video}: {exc.strerror or exc}", failed=result)
            return None
        entry = self.registry.get(video_fingerprint)
        copy_of = next((video for video, fp in admitted.items() if fp == video_fingerprint), None)
        if copy_of is not None:
            result.state, result.note = "skipped", f"the same video as {copy_of} (same content)"
        elif entry is None:
            return video_fingerprint
        elif still_running(entry, self.persons_dir):
            result.state, result.note = "skipped", f"being processed right now by another run (pid {entry['pid']})"
        elif covers(entry, self.config.max_frames) and not self.reprocess:
            earlier = entry.get("person_ids") or []
            result.state, result.earlier_persons = "skipped", len(earlier)
            result.note = (
                f"done already (run {entry.get('run_id')}, {len(earlier)} persons); --reprocess replaces its folders"
            )
        else:
            # interrupted, failed, done in part (--max-frames), or --reprocess: done again, its folders replaced
            return video_fingerprint
        log.info("%s: skipped, %s", result.video, result.note)
        return None

    def _frames_to_process(self, info: VideoInfo) -> int:
        if self.config.max_frames and (not info.frame_count or info.frame_count > self.config.max_frames):
            return self.config.max_frames
        return info.frame_count

    def _process_video(
        self,
        info: VideoInfo | None,
        video_fingerprint: str,
        result: VideoResult,
        writer: CropWriter,
        owner: bool = True,
    ) -> None:
        """Open a live source, then track the video: as the owner of the persons folder (the registry
        and earlier folders too), or, ``owner=False``, as a worker whose writer sends what it writes."""
        with contextlib.ExitStack() as stack:
            live = None
            if result.live:
                try:
                    live = self._live = stack.enter_context(LiveReader(result.video, self.config.duration_s))
                except InputError as exc:  # one dead camera does not stop the others
                    self.progress.problem(result.video, str(exc), failed=result)
                    return
                stack.callback(setattr, self, "_live", None)
                if self.stopping.is_set():  # stopped while it was being opened
                    live.stop()
                info = live.info
            if not owner:
                self.track_book(info, video_fingerprint, result, writer, live)
            elif self._begin_video(info, video_fingerprint, result):
                self.track_book(info, video_fingerprint, result, writer, live)
                self._end_video(video_fingerprint, result)

    def track_book(
        self, info: VideoInfo, video_fingerprint: str, result: VideoResult, writer: Any, live: LiveReader | None
    ) -> None:
        """Track one video into its folders through ``self.allocator`` and ``writer``, and ``result``."""
        book = TrackBook(info, self.context, self.allocator, writer, video_fingerprint)
        complete = False
        annotator = mot = None
        try:
            annotator = annotator_for(self.annotated_dir, info.path, info.fps, (info.width, info.height), writer)
            mot = mot_file_for(self.mot_dir, info.path)
            after = AfterDetection(self, stages_of(self.tracker), result, book, annotator, mot, live)
            self._track_frames(info, after)
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
        self._record(result, book)

    def _begin_video(self, info: VideoInfo | None, video_fingerprint: str, result: VideoResult) -> bool:
        """Replace what an earlier run left of this video, and record that this run has it now
        (``info`` is None for a live source a worker opens)."""
        if info is None:
            log.info("tracking persons in %s (live, in a worker)", result.video)
        else:
            log.info(
                "tracking persons in %s (%dx%d, %.1f fps, %d frames)",
                info.name if info.live else info.path,
                info.width,
                info.height,
                info.fps,
                info.frame_count,
            )
        try:
            result.replaced = set_aside(self.persons_dir, folders_of(self.persons_dir, video_fingerprint))
        except InputError as exc:
            self.progress.problem(result.video, f"{result.video}: {exc}", failed=result)
            return False
        self.registry.record(
            video_fingerprint,
            state="running",
            video=info.shown if info is not None else str(result.video),
            run_id=self.context.run_id,
            pid=os.getpid(),
            started_at=utc_now_iso(),
        )
        result.state = "running"
        self.progress.video_started(result.video)
        return True

    def _end_video(self, video_fingerprint: str, result: VideoResult) -> None:
        limit = self.config.max_frames
        self.registry.record(
            video_fingerprint,
            state=result.state,
            frames=result.frames,
            # the whole video: no --max-frames, or it ended before the limit; a live source: ended as asked
            complete=result.state == "done" and (result.live or not limit or result.frames < limit),
            person_ids=result.person_ids,
            finished_at=utc_now_iso(),
        )

    def _track_frames(self, info: VideoInfo, after: AfterDetection) -> None:
        """The frame loop, on three threads (``pipeline.py``): frames are read and prepared ahead,
        this thread runs the gate and the model (or hands frames to the detector's copies, each on a
        thread of its own), and the worker (``after``) tracks, chooses crops, annotates and reports
        progress. Frames are prepared ahead only while the detector runs on every frame (on footage the
        gate skips or strides through, preparing would be mostly wasted); the others, and a live
        source's (its reader keeps only the newest frames), by the detector's copy that takes them."""
        self.tracker.start_video()
        stages, result, live = after.stages, after.result, after.live
        gate = gate_for(self.config.skip_still_frames, self.tracker, info.fps, self.config.detect_fps)
        stride = gate.stride
        detecting = True  # the last frame's decision: the reader thread reads it

        def prepare_ahead(frame: np.ndarray) -> Any:
            return stages.prepare(frame) if detecting else None

        def prepare_and_detect(job: tuple[np.ndarray, Any]) -> tuple[Any, Any]:
            frame, prepared = job
            if prepared is None and stages.prepare is not None:
                prepared = stages.prepare(frame)
            return prepared, stages.detect(prepared)

        if live is not None:
            reader: Any = contextlib.nullcontext(live)
        else:
            # while people move, one frame in ``stride`` is detected: preparing ahead would mostly miss it
            ahead = prepare_ahead if stages.prepare is not None and stride == 1 else None
            reader = FrameReader(info.path, self.config.max_frames, prepare=ahead)
        copies = stages.copies
        # the worker's queue holds a detected frame for each copy and the frames between them, so that
        # no copy waits while the worker tracks
        with (
            Detecting(prepare_and_detect, copies) as detect,
            reader as frames,
            InOrder(after.handle, 1 + copies * stride) as worker,
        ):
            for position, (index, frame, *ready) in enumerate(frames):
                decision = gate.decide(frame, functools.partial(after.tracks_before, position, worker))
                detecting = decision == DETECT
                # a frame not prepared ahead is prepared by the detector's copy, on its thread
                detected = detect((frame, ready[0] if ready else None)) if detecting else None
                worker.put((position, index, frame, decision, detected))
        after.finish()  # the frames between the last detection and the end
        result.skipped_frames = gate.skipped
        if live is not None:
            if live.error:  # the stream went away for good: what was tracked until then stands
                result.warning = f"{result.video}: {live.error}"
                self.progress.problem(result.video, result.warning)
            return
        if frames.error:
            raise InputError(f"{info.path}: {frames.error}")
        self._check_length(info, result)

    def _record(self, result: VideoResult, book: TrackBook) -> None:
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

    def _check_length(self, info: VideoInfo, result: VideoResult) -> None:
        expected = self._frames_to_process(info)
        if expected and result.frames < expected * (1 - TRUNCATION_TOLERANCE) - 1:
            result.warning = (
                f"{info.path}: ended after {result.frames} of {expected} frames (the file is truncated or damaged)"
            )
            self.progress.problem(info.path, result.warning)


class AfterDetection:
    """What follows the model call for each frame, in order, on the tracking thread: the tracker,
    the MOT file, the crops, the annotated copy, progress and checkpoints."""

    def __init__(
        self,
        run: TrackingRun,
        stages: Any,
        result: VideoResult,
        book: TrackBook,
        annotator: NoAnnotation | VideoAnnotator,
        mot: NoMotFile | MotFile,
        live: LiveReader | None = None,
    ) -> None:
        self.run, self.stages, self.result, self.book = run, stages, result, book
        self.annotator, self.mot, self.live = annotator, mot, live
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
        tracker = self.run.tracker
        self.tracks_by_position[position] = Tracks(
            idle=bool(getattr(tracker, "is_idle", False)),
            tentative=bool(getattr(tracker, "has_tentative", False)),
            boxes=[d.box for d in self.detections],
        )
        self.tracks_by_position.pop(position - TRACKS_KEPT, None)

    def _frame_done(self, index: int, frame: np.ndarray, detections: Sequence[Any], crops: bool = True) -> None:
        book, progress = self.book, self.run.progress
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
        if time.monotonic() - self.last_checkpoint >= self.run.config.metadata_interval_s:
            book.write_metadata(complete=False)
            self.last_checkpoint = time.monotonic()
        progress.frame_done(persons, self.result if self.live is not None else None)
