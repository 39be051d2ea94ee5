"""The owner's record of each video it tracks (serially or through workers): before tracking, what an
earlier run left of the video is set aside and the registry says this run has it; after, the
registry says how it ended."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..core.errors import InputError
from ..core.status import utc_now_iso
from .after_detection import Progress
from .progress import VideoResult
from .registry import VideoRegistry, folders_of, set_aside
from .videos import VideoInfo

log = logging.getLogger(__name__)


class Ledger:
    """Begins and ends the videos of one run in ``persons_dir``'s registry."""

    def __init__(self, persons_dir: Path, registry: VideoRegistry, run_id: str, max_frames: int) -> None:
        self.persons_dir, self.registry, self.run_id, self.max_frames = persons_dir, registry, run_id, max_frames

    def begin(self, info: VideoInfo | None, video_fingerprint: str, result: VideoResult, progress: Progress) -> bool:
        """Replace what an earlier run left of this video, and record that this run has it now
        (``info`` is None for a live source a worker opens). False (and ``result`` failed) when the
        earlier folders cannot be replaced."""
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
            progress.problem(result.video, f"{result.video}: {exc}", failed=result)
            return False
        self.registry.record(
            video_fingerprint,
            state="running",
            video=info.shown if info is not None else str(result.video),
            run_id=self.run_id,
            pid=os.getpid(),
            started_at=utc_now_iso(),
        )
        result.state = "running"
        return True

    def end(self, video_fingerprint: str, result: VideoResult) -> None:
        limit = self.max_frames
        self.registry.record(
            video_fingerprint,
            state=result.state,
            frames=result.frames,
            # the whole video: no --max-frames, or it ended before the limit; a live source: ended as asked
            complete=result.state == "done" and (result.live or not limit or result.frames < limit),
            person_ids=result.person_ids,
            finished_at=utc_now_iso(),
        )
