"""The videos of an evaluation tracked as ``obj_counting.py`` tracks them: all in one run, into one
persons folder, with their tracks in MOTChallenge format. What the run left is described in
``tracking.json`` beside the folder, so that an evaluation can score it again (``--tracked DIR``:
the merge side changed, or a subset of its videos) without tracking the videos twice."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import TrackingConfig
from ..core.errors import InputError
from ..core.files import atomic_write_json
from ..tracking.mot import MotRow, read_mot
from .timeline import Clip

MANIFEST = "tracking.json"


@dataclass
class TrackedVideo:
    video: str  # its absolute path, as track.json names it
    name: str
    fps: float
    frames: int  # frames tracked
    frame_count: int  # frames in the video
    size: tuple[int, int]
    tracks: dict[str, int]  # seen, too short, not confident: the count, explained
    mot: str  # its MOT file, relative to the run's folder

    def clip(self, run_dir: Path, gt: list[MotRow]) -> Clip:
        hypotheses = tuple(read_mot(run_dir / self.mot)) if self.mot else ()
        kept = tuple(r for r in gt if r.frame <= self.frames)
        return Clip(self.video, self.name, self.fps, self.frames, kept, hypotheses)


@dataclass
class TrackedRun:
    folder: Path  # holds persons/, mot/, status.json and tracking.json
    detector: str  # the tracking settings, as the report says them
    seconds: float
    videos: list[TrackedVideo] = field(default_factory=list)

    @property
    def persons(self) -> Path:
        return self.folder / "persons"

    def find(self, video: Path) -> TrackedVideo:
        key = str(Path(video).resolve())
        for tracked in self.videos:
            if tracked.video == key:
                return tracked
        raise InputError(f"--tracked {self.folder} did not track {video} (it tracked: {self.names()})")

    def names(self) -> str:
        return ", ".join(v.name for v in self.videos)


def track(config: TrackingConfig, videos: list[Path], folder: Path, detector: str) -> TrackedRun:
    """Track ``videos`` in one run into ``folder``/persons and describe the run in ``tracking.json``."""
    from ..tracking.stage import run_tracking
    from ..tracking.videos import probe_video

    infos = {str(v.resolve()): probe_video(v) for v in videos}
    started = time.monotonic()
    result = run_tracking(
        config, videos, folder / "persons", folder / "status.json", mot_dir=folder / "mot", show_progress=False
    )
    run = TrackedRun(folder, detector, time.monotonic() - started)
    for done in result.videos:
        key = str(Path(str(done.video)).resolve())
        if done.state != "done":
            raise InputError(f"{done.video} was not tracked ({done.state}): {done.error or done.note or ''}".rstrip())
        info = infos[key]
        tracks = {"seen": done.tracks, "too short": done.too_short, "not confident": done.not_confident}
        mot = str(Path(done.mot_file).relative_to(folder)) if done.mot_file else ""
        size = (info.width, info.height)
        run.videos.append(TrackedVideo(key, info.path.name, info.fps, done.frames, info.frame_count, size, tracks, mot))
    atomic_write_json(folder / MANIFEST, _document(run))
    return run


def _document(run: TrackedRun) -> dict[str, Any]:
    return {"detector": run.detector, "seconds": round(run.seconds, 1), "videos": [asdict(v) for v in run.videos]}


def load(folder: Path) -> TrackedRun:
    """The run an earlier evaluation kept in ``folder`` (``--keep``); ``InputError`` if it is not one."""
    path = Path(folder) / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        videos = [TrackedVideo(**{**v, "size": tuple(v["size"])}) for v in document["videos"]]
        run = TrackedRun(Path(folder), str(document["detector"]), float(document["seconds"]), videos)
    except FileNotFoundError:
        raise InputError(f"--tracked {folder}: no {MANIFEST} (keep a run with --keep DIR first)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--tracked {folder}: unreadable {MANIFEST}: {exc}") from None
    if not run.persons.is_dir():
        raise InputError(f"--tracked {folder}: no persons folder in it")
    return run
