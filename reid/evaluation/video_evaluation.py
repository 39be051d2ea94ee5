"""What ``python -m reid.evaluation.video`` measures: the videos tracked as ``obj_counting.py`` tracks
them (all in one run, into one persons folder), the folders scored against the ground truth as one
count (``timeline.py``), then the merge plan scored at each threshold."""

from __future__ import annotations

import argparse
import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import MatchingConfig, TrackingConfig
from ..core.errors import InputError
from ..core.track_metadata import is_merged, read_track_metadata
from ..matching.camera import Normalisation
from ..matching.folders import Folder, scan_folders
from ..matching.linking import LINK_BONUS
from ..tracking.mot import MotRow, read_mot
from . import identity as ident
from . import video_tracking
from .sweep import parse_thresholds
from .timeline import MIN_VISIBLE_S, Timeline, transfers
from .video_folders import FolderScore, score_folders
from .video_merge import MergeSweep, Outcome, Variant, merge_sweeps

__all__ = ["MIN_VISIBLE_S", "VideoEvaluation", "evaluate"]

log = logging.getLogger(__name__)


@dataclass
class VideoEvaluation:
    settings: str
    timeline: Timeline
    tracks: dict[str, int]  # seen, too short, not confident: the count, explained
    folders: list[FolderScore]
    before: Outcome
    tracked: dict[int, float]  # per GT id, the share of its boxes some track covers (motmetrics)
    per_video: dict[str, dict[str, float]] = field(default_factory=dict)  # each video's motmetrics scores alone
    transfers: dict[int, list[int]] = field(default_factory=dict)  # folder id -> frames (from 1) it changed person
    transfers_per_video: dict[str, int] = field(default_factory=dict)
    normalisation: Normalisation | None = None
    merges: list[MergeSweep] = field(default_factory=list)
    # after the plan deeplearningg_reID.py makes by default: per-camera normalisation where it applies,
    # motion evidence on with its link bonus, the default threshold of the normalisation applied
    default: Outcome | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def gt(self) -> list[MotRow]:
        return self.timeline.gt

    @property
    def fps(self) -> float:
        return self.timeline.clips[0].fps

    @property
    def min_frames(self) -> int:
        return self.timeline.clips[0].min_frames

    @property
    def visible(self) -> set[int]:
        return self.timeline.visible


def evaluate(args: argparse.Namespace, work: Path) -> VideoEvaluation:
    """Track (or take the run ``--tracked`` names), score the folders, then score the merge's plan at
    each threshold."""
    gts = [read_gt(path) for path in args.gt]
    if args.tracked is not None:
        run = video_tracking.load(args.tracked)
        tracked = [run.find(video) for video in args.video]
    else:
        run = video_tracking.track(args.tracking, list(args.video), work, _detector(args.tracking))
        tracked = [run.find(video) for video in args.video]
    tracked_at = time.monotonic()
    timeline = Timeline([t.clip(run.folder, gt) for t, gt in zip(tracked, gts, strict=True)])
    folders = folders_of(scan_folders(run.persons), timeline, args.tracked)
    scored = score_folders(folders, timeline)
    evaluation = VideoEvaluation(
        settings=_settings(args, run, tracked),
        timeline=timeline,
        tracks={name: sum(t.tracks.get(name, 0) for t in tracked) for name in tracked[0].tracks},
        folders=scored,
        before=Outcome([s.crops for s in scored], ident.mot_scores(timeline.gt, timeline.hypotheses)),
        tracked=ident.tracked_share(timeline.gt, timeline.hypotheses),
    )
    for clip in timeline.clips:
        evaluation.per_video[clip.name] = ident.mot_scores(clip.gt, clip.hypotheses)
        found = transfers(clip.gt, clip.hypotheses)
        evaluation.transfers_per_video[clip.name] = len(found)
        for frame, folder_id in found:
            evaluation.transfers.setdefault(folder_id, []).append(frame)
    if scored:
        evaluation.normalisation, evaluation.merges, evaluation.default = _merge(args, scored, timeline, run.persons)
    evaluation.seconds = {"tracking": run.seconds} if args.tracked is None else {}
    evaluation.seconds["scoring and merge sweep"] = time.monotonic() - tracked_at
    return evaluation


def _merge(
    args: argparse.Namespace, scored: list[FolderScore], timeline: Timeline, persons: Path
) -> tuple[Normalisation, list[MergeSweep], Outcome | None]:
    """The sweeps asked for, and the default plan (one of them, or scored on its own)."""
    from ..matching.cache import EmbeddingCache
    from ..matching.decision import threshold_choice
    from ..matching.embedding import embed_folders
    from ..matching.features import load_extractor
    from ..matching.keys import model_key

    matching: MatchingConfig = args.matching
    cache = EmbeddingCache(persons, model_key(matching))
    extractor = functools.cache(lambda: load_extractor(matching))  # loaded once, if a crop needs it
    embed_folders(scan_folders(persons), extractor, cache)  # all, so that the cache keeps every video's crops
    start_times = start_times_of(args, [s.folder for s in scored])

    def sweep(
        thresholds: list[float], chosen: list[Variant], normalise: bool
    ) -> tuple[Normalisation, list[MergeSweep]]:
        return merge_sweeps(
            scored,
            timeline.gt,
            timeline.hypotheses,
            extractor,
            thresholds,
            lambda folders, applied: threshold_choice(folders, matching, applied).value,
            chosen,
            normalise,
            cache,
            start_times,
        )

    default = Variant(True, LINK_BONUS)
    normalisation, sweeps = sweep(parse_thresholds(args.thresholds), variants(args), not args.no_camera_normalisation)
    same = [s.default for s in sweeps if s.variant == default and not args.no_camera_normalisation]
    return normalisation, sweeps, same[0] if same else sweep([], [default], True)[1][0].default


def start_times_of(args: argparse.Namespace, folders: list[Folder]) -> dict[str, float]:
    """``--start-times`` by the videos' paths as the folders' tracks give them, as the merge stage takes them."""
    from ..matching.start_times import match_videos

    try:
        return match_videos(args.start_times, [t.video for f in folders for t in f.appearances])
    except ValueError as exc:
        raise InputError(str(exc)) from None


def read_gt(path: Path) -> list[MotRow]:
    rows = read_mot(path)
    if not rows:
        raise InputError(f"{path} has no ground-truth boxes")
    if any(r.conf == 0 for r in rows):  # MOTChallenge 16+ marks boxes to ignore so; MOT15 has none
        log.warning("%s has rows with confidence 0; they are scored as people like every other row", path)
    return rows


def folders_of(folders: list[Folder], timeline: Timeline, tracked: Path | None) -> list[Folder]:
    """The folders of the timeline's videos. A folder a merge changed is refused: the evaluation
    scores what tracking made, then what the merge would make of it."""
    for folder in folders:
        if is_merged(read_track_metadata(folder.path)):
            raise InputError(f"{folder.path} was merged: --tracked needs the folders as tracking left them")
    kept = [f for f in folders if timeline.offset_of(f.camera) is not None]
    if tracked is None and len(kept) != len(folders):
        raise InputError(f"{len(folders) - len(kept)} folders of the run are of no video tracked")
    return kept


def _detector(t: TrackingConfig) -> str:
    # ultralytics runs an exported model (.tflite, static .onnx) at its export size, whatever --imgsz says
    imgsz = f"imgsz {t.imgsz}" if t.model.endswith(".pt") else f"imgsz {t.imgsz} unless fixed by the export"
    return (
        f"detector `{Path(t.model).name}` ({t.tracker}, {imgsz}, "
        f"conf {t.conf}, min-track {t.min_track_seconds:g} s and {t.min_track_frames} frames, "
        f"max-crops {t.max_crops}, "
        f"min-crop {t.min_crop_width}x{t.min_crop_height}{', edge crops kept' if t.keep_edge_crops else ''})"
    )


def _settings(args: argparse.Namespace, run: video_tracking.TrackedRun, tracked: list) -> str:
    m: MatchingConfig = args.matching
    weights = m.weights_file.name if m.weights_file else m.weights
    videos = [
        f"`{t.name}`, {t.frames} of {t.frame_count} frames at {t.fps:g} fps, {t.size[0]}x{t.size[1]}; GT `{gt}`"
        for t, gt in zip(tracked, args.gt, strict=True)
    ]
    shown = (
        f"video {videos[0]}"
        if len(videos) == 1
        else "videos " + "; ".join(f"({n}) {v}" for n, v in enumerate(videos, 1))
    )
    if args.tracked is not None:
        shown += f"; tracked earlier into `{args.tracked}` (videos: {run.names()})"
    return (
        f"{shown}; {run.detector}; "
        f"re-ID {m.backbone}, weights `{weights}`, input {m.input_height}x{m.input_width}, "
        f"default threshold {m.threshold_for(True)} with per-camera normalisation, {m.threshold_for(False)} "
        f"without; IoU >= {ident.MIN_IOU}"
    )


def variants(args: argparse.Namespace) -> list[Variant]:
    """The plans to score: motion evidence off (``--no-motion``), on at each ``--link-bonus``, or both."""
    on = [Variant(True, bonus) for bonus in args.link_bonus]
    off = [Variant(False)]
    return off if args.no_motion else off + on if args.compare_motion else on
