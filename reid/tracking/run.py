"""The tracking stage: videos -> tracked persons -> one folder of crops per track.

``TrackingRun.run`` reads like the stage itself: probe every video and admit those to be tracked
(not done before, not a copy of another), then track each one, in this process (``job.py``) or
in a pool of workers (``pool.py``), while ``ledger.py`` keeps the registry and ``progress.py`` the
progress bar and the ``counting`` section of ``status.json``. Each video flows through the steps
sources -> frames (``frames.py``) -> detections (``detector.py``) -> tracks (``after_detection.py``,
``tracks.py``) -> folders (``writer.py``). The tracker is passed in, so this module does not import
ultralytics.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..core.cli import plural
from ..core.config import TrackingConfig
from ..core.errors import InputError
from ..core.persons import IdAllocator, prepare_persons_dir
from ..core.status import SectionReporter
from .frames import frames_to_process
from .job import Tracker, TrackingJob
from .ledger import Ledger
from .messages import VideoTask
from .owner import FolderOwner
from .pool import Pool, track_in_pool
from .progress import RunProgress, RunResult, VideoResult
from .registry import VideoRegistry, covers, fingerprint, folders_holding, left_unfinished, still_running
from .sources import Source
from .tracks import RunContext
from .videos import VideoInfo, probe_video
from .writer import CropWriter

log = logging.getLogger(__name__)


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
        tracker: Tracker | None,
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
        self.ledger = Ledger(self.persons_dir, self.registry, self.context.run_id, config.max_frames)
        self.progress: RunProgress | None = None
        self.stopping = threading.Event()
        self._job: TrackingJob | None = None  # this process's, for stop()
        self.make_pool = pool  # workers that track the videos (--workers, --ray); None: this process
        self._pool: Pool | None = None

    @property
    def live_now(self) -> bool:
        """Whether a live source is being tracked right now."""
        if self._pool is not None and self.progress is not None:
            return any(r.live and r.state == "running" for r in self.progress.results)
        return self._job is not None and self._job.live is not None

    def stop(self) -> None:
        """End the live source being tracked as done (its folders complete), and start no other video.
        Safe from a signal handler."""
        self.stopping.set()
        job, pool = self._job, self._pool
        if job is not None:
            job.stop()
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
        frames_total = sum(frames_to_process(infos[r.video], self.config.max_frames) for r in todo)
        progress.start(self.context.run_id, self.persons_dir, frames_total, device=self.config.device)
        writer = CropWriter(self.config.jpeg_quality, self.config.write_queue_size)
        try:
            tasks = [self._task(i, r, infos, fingerprints) for i, r in enumerate(results)]
            if self.make_pool is not None:
                self._track_in_pool(tasks, results, writer)
            else:
                self._track_here(tasks, results, writer)
        finally:
            progress.close()
            writer.close()  # also after an error or Ctrl-C: what was queued still reaches the disk
        unfinished = left_unfinished(self.persons_dir, {fp for fp in fingerprints.values() if fp})
        return RunResult(self.context.run_id, results, progress.seconds, unfinished)

    def _task(self, index: int, result: VideoResult, infos: dict, fingerprints: dict) -> VideoTask | None:
        """The video to track, as admitted; None when it is not to be tracked."""
        video_fingerprint = fingerprints.get(result.video)
        if not video_fingerprint:
            return None
        return VideoTask(index, result.video, infos[result.video], video_fingerprint, self.context)

    def _track_here(self, tasks: list[VideoTask | None], results: list[VideoResult], writer: CropWriter) -> None:
        """Every video in turn, in this process."""
        progress = self.progress
        job = TrackingJob(
            self.config, self.tracker, self.context, self.allocator, writer, progress, self.annotated_dir, self.mot_dir
        )
        self._job = job
        if self.stopping.is_set():
            job.stop()
        for done, (task, result) in enumerate(zip(tasks, results, strict=True), 1):
            if task is not None and self.stopping.is_set():
                result.state, result.note = "skipped", "the run was stopped before its turn"
            elif task is not None:
                with job.opened(result, task.info) as info:
                    if info is not None and self.ledger.begin(info, task.fingerprint, result, progress):
                        progress.video_started(result.video)
                        job.track(info, task.fingerprint, result)
                        self.ledger.end(task.fingerprint, result)
            progress.video_ended(done, result.persons)

    def _track_in_pool(self, tasks: list[VideoTask | None], results: list[VideoResult], writer: CropWriter) -> None:
        """Every admitted video tracked by the pool's workers at once."""
        admitted = sum(task is not None for task in tasks)
        if not admitted:  # every video skipped or failed already: no worker to start
            for done, result in enumerate(results, 1):
                self.progress.video_ended(done, result.persons)
            return
        self._pool = pool = self.make_pool(admitted)
        try:
            track_in_pool(pool, tasks, results, FolderOwner(self.allocator, writer), self.ledger, self.progress)
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
            # the folders as they are now: a merge since may have joined some of them
            earlier = len(folders_holding(self.persons_dir, video_fingerprint))
            result.state, result.earlier_persons = "skipped", earlier
            result.note = (
                f"done already (run {entry.get('run_id')}, {plural(earlier, 'person')} in the folders now); "
                "--reprocess replaces its folders"
            )
        else:
            # interrupted, failed, done in part (--max-frames), or --reprocess: done again, its folders replaced
            return video_fingerprint
        log.info("%s: skipped, %s", result.video, result.note)
        return None
