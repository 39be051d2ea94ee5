"""The tracking stage as the script runs it: check the inputs, take the persons folder's lease,
load the detector, track every video, and leave the ``counting`` status final."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..core.cli import plural
from ..core.config import TrackingConfig
from ..core.errors import InputError
from ..core.lease import Lease
from ..core.paths import shown_path
from ..core.persons import prepare_output_dir
from ..core.persons_dir import prepare_persons_folder
from ..core.status import SectionReporter, StatusFile
from .progress import RunResult, VideoResult
from .run import TrackingRun
from .sources import Source
from .videos import find_all_videos

log = logging.getLogger(__name__)


def run_tracking(
    config: TrackingConfig,
    videos: Path | Sequence[Path | Source],
    persons_dir: Path,
    status_file: Path,
    *,
    annotated_dir: Path | None = None,
    mot_dir: Path | None = None,
    reprocess: bool = False,
    show_progress: bool | None = None,
    workers: int = 1,
    ray_address: str | None = None,
) -> RunResult:
    """Track persons in ``videos`` (files, folders, or live sources) into ``persons_dir``. Mistakes
    found before any work (no videos, an unwritable folder, a malformed status file, a merge holding
    the folder) raise before the ``counting`` section is touched. SIGTERM is Ctrl-C; while a live source
    is tracked, either ends it as done (a second one interrupts). ``workers`` > 1 tracks videos in as many
    processes; ``ray_address`` ("" for a local cluster) as Ray tasks; this process keeps the folder."""
    pool = pool_for(config, workers, ray_address)
    if pool is not None and (annotated_dir is not None or mot_dir is not None):
        raise InputError("--save-video and --save-mot work without --workers and --ray only, for now")
    paths = expand_sources([videos] if isinstance(videos, str | Path) else videos)
    prepare_persons_folder(persons_dir)
    if annotated_dir is not None:
        prepare_output_dir(annotated_dir, "--save-video")
    if mot_dir is not None:
        prepare_output_dir(mot_dir, "--save-mot")
    status = StatusFile(status_file)
    status.read()  # a malformed status file is reported now, not after loading the model
    # held for the whole run: a merge or undo of these folders must wait until tracking is done
    with Lease(persons_dir, "tracking").shared():
        tracker = None  # with workers, each loads its own
        if pool is None:
            from .detector import PersonTracker  # loads ultralytics and torch: only when there is work

            log.info("loading detector %s", config.model)
            tracker = PersonTracker(config)
        reporter = SectionReporter(status, "counting", config.status_interval_s)
        run = TrackingRun(
            config,
            tracker,
            persons_dir,
            reporter,
            model_name=config.model,
            show_progress=show_progress,
            annotated_dir=annotated_dir,
            mot_dir=mot_dir,
            reprocess=reprocess,
            pool=pool,
        )
        try:
            with stop_on_signals(run):
                result = run.run(paths)
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            reporter.finish(
                "interrupted" if interrupted else "failed",
                error="interrupted" if interrupted else str(exc),
                errors=run.errors,
            )
            raise
        _finish_status(reporter, result, run.errors)
        return result


def pool_for(config: TrackingConfig, workers: int, ray_address: str | None) -> Callable[[int], Any] | None:
    """What makes the workers of a run for its number of videos: Ray tasks, processes (no more than
    there are videos, so that one video gets every core), or None (this process tracks)."""
    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    if ray_address is not None:
        from .cluster import RayPool

        return lambda videos: RayPool(config, ray_address)
    if workers > 1:
        from .workers import ProcessPool

        return lambda videos: ProcessPool(config, max(1, min(workers, videos)))
    return None


def expand_sources(videos: Sequence[Path | Source]) -> list[Path | Source]:
    """Folders replaced by the videos in them, in order, each file once; live sources kept as they are."""
    expanded: list[Path | Source] = []
    for video in videos:
        if isinstance(video, Source) and video.is_live:
            expanded.append(video)
        else:
            expanded += find_all_videos([video.path if isinstance(video, Source) else Path(video)])
    files = {}
    for video in expanded:
        files.setdefault(video if isinstance(video, Source) else video.resolve(), video)
    return list(files.values())


@contextlib.contextmanager
def stop_on_signals(run: TrackingRun) -> Iterator[None]:
    """While the block runs: SIGTERM acts as Ctrl-C; during a live source, the first Ctrl-C or SIGTERM
    ends it as done (``run.stop()``), the next interrupts. Outside the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        if run.live_now and not run.stopping.is_set():
            log.warning("stopping: the live source ends now (again to interrupt at once)")
            run.stop()
            return
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _finish_status(reporter: SectionReporter, result: RunResult, errors: list[dict[str, str]]) -> None:
    """``failed`` when every video failed, or a live source did (a camera given up on must be seen, and
    restarted, by whoever watches the monitor); ``done`` otherwise, failed files listed in ``videos``."""
    lost = [v for v in result.failed if v.live]
    # nothing processed because what was tried failed (the others skipped): a failure, not an empty success
    nothing = bool(result.failed) and not any(v.state == "done" for v in result.videos)
    if nothing and not lost:
        skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
        error = f"no video was processed ({len(result.failed)} failed{skipped})"
    else:
        error = "; ".join(v.error or f"{v.video} failed" for v in lost) or None
    reporter.finish(
        "failed" if nothing or lost else "done",
        persons=result.persons,
        tracks=result.tracks,
        videos=[v.to_status() for v in result.videos],
        errors=errors,
        error=error,
    )


def check_result(result: RunResult) -> None:
    """``InputError`` when every video failed before a frame of it was tracked (the summary says why
    for each); a live source lost after some tracking is a failed source, whose tracks stand."""
    if len(result.failed) == len(result.videos) and not any(v.frames for v in result.videos):
        which = "no video" if len(result.videos) == 1 else f"none of the {len(result.videos)} videos"
        raise InputError(f"{which} could be processed (see the summary above)")


def format_summary(result: RunResult, persons_dir: Path) -> str:
    """Persons per video and in total, as printed at the end of a run, with what became of every
    track: a person counted, a false detection (too short), or never a confident box."""
    lines = ["", "Persons per video:"]
    width = max(len(str(v.video)) for v in result.videos)
    indent = " " * (width + 4)
    for video in result.videos:
        if video.state == "failed":
            lines.append(f"  {str(video.video):<{width}}  FAILED: {video.error}")
            if video.frames:  # given up on after some tracking: what it found stands
                found = f"{plural(video.persons, 'person')} in {plural(video.frames, 'frame')}"
                lines.append(f"{indent}before that: {found}")
                lines += [f"{indent}{line}" for line in _explain(video)]
            continue
        if video.state == "skipped":
            lines.append(f"  {str(video.video):<{width}}  skipped: {video.note}")
            continue
        ids = f"  ({_id_range(video.person_ids)})" if video.person_ids else ""
        lines.append(
            f"  {str(video.video):<{width}}  {plural(video.persons, 'person')} in {plural(video.frames, 'frame')}{ids}"
        )
        lines += [f"{indent}{line}" for line in _explain(video)]
    processed = len(result.videos) - len(result.failed) - len(result.skipped)
    fps = result.frames / result.seconds if result.seconds else 0.0
    earlier = sum(v.earlier_persons for v in result.skipped)
    lines.append(
        f"Total: {plural(result.persons, 'person')} ({plural(result.tracks, 'track')} seen) in {processed} of "
        f"{plural(len(result.videos), 'video')} ({plural(result.frames, 'frame')} in {result.seconds:.1f} s, "
        f"{fps:.1f} fps); "
        f"folders in {shown_path(persons_dir)}/"
        + (f"; {plural(earlier, 'person')} from earlier runs of the skipped videos" if earlier else "")
    )
    if result.unfinished:
        names = _names([folder.name for folder in result.unfinished])
        lines.append(
            f"Not counted above: {persons_dir}/ also holds {plural(len(result.unfinished), 'folder')} ({names}) that "
            "a killed run began and never finished; tracking their videos again replaces them"
        )
    return "\n".join(lines)


def _explain(video: VideoResult) -> list[str]:
    """The lines under a video's count: its tracks, warnings and annotated copy."""
    lines = []
    dropped = []
    if video.too_short:
        dropped.append(f"{video.too_short} too short (under {video.min_frames} frames: false detections, fragments)")
    if video.not_confident:
        dropped.append(f"{video.not_confident} without a confident box (--conf)")
    if dropped:
        lines.append(f"{plural(video.tracks, 'track')}: {video.persons} counted, {', '.join(dropped)}")
    if video.low_resolution:
        lines.append(
            f"{plural(video.low_resolution, 'person')} only seen small or cut off by the border "
            f"(their crops are marked low_resolution / at_edge)"
        )
    if video.live:
        lines.append(
            f"live for {video.uptime_s:.0f} s at {video.fps:.1f} fps, {plural(video.reconnects, 'reconnect')}"
            + (
                f", {plural(video.dropped_frames, 'frame')} dropped to keep up with the camera (--imgsz, "
                "or a GPU with --device, makes tracking faster)"
                if video.dropped_frames
                else ""
            )
        )
    if video.warning:
        lines.append(f"warning: {video.warning}")
    if video.annotated:
        lines.append(f"annotated copy: {video.annotated}")
    if video.mot_file:
        lines.append(f"tracks in MOTChallenge format: {video.mot_file}")
    if video.replaced:
        lines.append(f"its earlier folders were replaced (kept in {video.replaced})")
    return lines


def _id_range(ids: list[int]) -> str:
    return _names([f"id_{i}" for i in ids])


def _names(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 4 else f"{names[0]} .. {names[-1]}"
