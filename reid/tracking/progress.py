"""How far a tracking run is: frames, persons, speed and problems, for the progress bar and
the ``counting`` section of ``status.json``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from ..core.paths import absolute
from ..core.status import ErrorLog, SectionReporter

if TYPE_CHECKING:
    from .sources import Source

log = logging.getLogger(__name__)


@dataclass
class VideoResult:
    """What tracking made of one video."""

    video: Path | Source  # a file, or a live source (shown by its label, never its password)
    state: str = "pending"  # pending, running, done, failed, skipped
    persons: int = 0
    tracks: int = 0
    too_short: int = 0  # tracks seen in fewer than min_frames frames: false detections or fragments
    min_frames: int = 0  # what "too short" meant for this video
    not_confident: int = 0  # long enough, but never a box of at least --conf
    low_resolution: int = 0  # persons only ever seen small or cut off: their crops are marked
    frames: int = 0
    skipped_frames: int = 0  # frames the detector did not see (nothing moved; --detect-fps: between detections)
    crops: int = 0
    person_ids: list[int] = field(default_factory=list)
    error: str | None = None
    warning: str | None = None
    annotated: Path | None = None  # the annotated copy (--save-video)
    mot_file: Path | None = None  # the tracks in MOTChallenge format (--save-mot)
    note: str | None = None  # why it was skipped
    earlier_persons: int = 0  # persons an earlier run found in a video skipped now
    replaced: Path | None = None  # where its earlier folders went (--reprocess, or after an interruption)
    live: bool = False  # a stream or webcam: the fields below tell how it went
    uptime_s: float = 0.0
    fps: float = 0.0  # frames tracked per second of uptime
    reconnects: int = 0
    dropped_frames: int = 0  # frames the camera sent while tracking was behind: not tracked

    def to_status(self) -> dict[str, Any]:
        status = {
            "video": str(self.video),
            "state": self.state,
            "persons": self.persons,
            "tracks": self.tracks,
            "too_short": self.too_short,
            "min_frames": self.min_frames,
            "not_confident": self.not_confident,
            "low_resolution": self.low_resolution,
            "frames": self.frames,
            "skipped_frames": self.skipped_frames,
            "crops": self.crops,
            "error": self.error,
            "warning": self.warning,
        }
        if self.annotated is not None:
            status["annotated"] = str(self.annotated)
        if self.mot_file is not None:
            status["mot_file"] = str(self.mot_file)
        if self.note is not None:
            status["note"] = self.note
        if self.replaced is not None:
            status["replaced"] = str(self.replaced)
        if self.live:
            status.update(live=True, uptime_s=round(self.uptime_s, 1), fps=round(self.fps, 2))
            status.update(reconnects=self.reconnects, dropped_frames=self.dropped_frames)
        return status


@dataclass
class RunResult:
    run_id: str
    videos: list[VideoResult]
    seconds: float = 0.0
    unfinished: list[Path] = field(default_factory=list)  # other videos' folders a killed run left

    @property
    def persons(self) -> int:
        return sum(v.persons for v in self.videos)

    @property
    def frames(self) -> int:
        return sum(v.frames for v in self.videos)

    @property
    def tracks(self) -> int:
        return sum(v.tracks for v in self.videos)

    @property
    def failed(self) -> list[VideoResult]:
        return [v for v in self.videos if v.state == "failed"]

    @property
    def skipped(self) -> list[VideoResult]:
        return [v for v in self.videos if v.state == "skipped"]


class RunProgress:
    """Counts frames and persons of the whole run and reports them at a bounded rate."""

    def __init__(self, reporter: SectionReporter, results: list[VideoResult], show_progress: bool | None) -> None:
        self.reporter = reporter
        self.results = results
        self.errors = ErrorLog()
        self.frames_done = 0
        self.persons = 0
        self._persons_in_done_videos = 0
        self._started = time.monotonic()
        # None lets tqdm decide: a bar on a terminal only
        self._show = None if show_progress is None else show_progress
        self.bar: tqdm | None = None
        self.live = False

    def start(self, run_id: str, persons_dir: Path, frames_total: int, **settings: Any) -> None:
        self.reporter.start(
            run_id=run_id,
            persons_dir=str(absolute(persons_dir)),
            videos_total=len(self.results),
            videos_done=0,
            frames_total=frames_total,
            frames_done=0,
            fps=0.0,
            eta_s=None,
            persons=0,
            current_video=None,
            videos=self.videos_status(),
            errors=self.errors.entries,
            **settings,
        )
        # a live source has no end to count down to: the bar counts frames, with no total or ETA
        self.live = any(r.live for r in self.results)
        self.bar = tqdm(
            total=None if self.live else frames_total,
            unit="frame",
            disable=None if self._show is None else not self._show,
            dynamic_ncols=True,
        )

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    def videos_status(self) -> list[dict[str, Any]]:
        return [r.to_status() for r in self.results]

    def video_started(self, path: Path) -> None:
        self.reporter.update(force=True, current_video=str(path), videos=self.videos_status())

    def video_ended(self, videos_done: int, persons_in_video: int) -> None:
        self._persons_in_done_videos += persons_in_video
        self.persons = self._persons_in_done_videos
        self.reporter.update(
            force=True, videos_done=videos_done, videos=self.videos_status(), errors=self.errors.entries
        )

    def persons_so_far(self, persons_in_video: int) -> int:
        """Person folders of the run so far: those of finished videos and of the current one."""
        return self._persons_in_done_videos + persons_in_video

    def frame_done(self, persons: int, live: VideoResult | None = None) -> None:
        """One more frame tracked; ``live``: the live source it came from, whose uptime, rate and
        reconnects the status file shows as they change."""
        self.frames_done += 1
        self.persons = persons
        elapsed = max(self.seconds, 1e-6)
        fps = self.frames_done / elapsed
        remaining = max(0, (self.bar.total or 0) - self.frames_done) if self.bar is not None else 0
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(persons=persons, refresh=False)
        extra = {"videos": self.videos_status()} if live is not None and self.reporter.due() else {}
        self.reporter.update(
            frames_done=self.frames_done,
            fps=round(fps, 2),
            persons=persons,
            eta_s=round(remaining / fps, 1) if fps > 0 and not self.live else None,
            **extra,
        )

    def problem(self, path: Path | str, message: str, *, failed: VideoResult | None = None) -> None:
        """A problem with one input: logged, in the status's error log, and the video marked failed if given."""
        if failed is not None:
            failed.state, failed.error = "failed", message
            log.info("%s", message)  # the summary says it, as FAILED, once the run ends
        else:
            log.warning("%s", message)
        self.errors.add(str(path), message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
