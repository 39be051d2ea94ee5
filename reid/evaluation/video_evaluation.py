"""What ``python -m reid.evaluation.video`` measures: the video tracked as ``obj_counting.py`` tracks
it, its folders scored against the ground truth, then the merge plan scored at each threshold."""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import MatchingConfig, TrackingConfig
from ..core.errors import InputError
from ..matching.camera import Normalisation
from ..matching.folders import scan_folders
from ..tracking.mot import MotRow, read_mot
from . import identity as ident
from .sweep import parse_thresholds
from .video_folders import FolderScore, score_folders
from .video_merge import MergeSweep, Outcome, Variant, merge_sweeps

if TYPE_CHECKING:
    from ..tracking.videos import VideoInfo

log = logging.getLogger(__name__)

MIN_VISIBLE_S = 2.0  # a person in view this long should be counted


@dataclass
class VideoEvaluation:
    settings: str
    fps: float
    gt: list[MotRow]  # within the frames tracked
    tracks: dict[str, int]  # seen, too short, not confident: the count, explained
    folders: list[FolderScore]
    before: Outcome
    tracked: dict[int, float]  # per GT id, the share of its boxes some track covers (motmetrics)
    normalisation: Normalisation | None = None
    merges: list[MergeSweep] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def min_frames(self) -> int:
        return round(MIN_VISIBLE_S * self.fps)

    @property
    def visible(self) -> set[int]:
        return ident.visible_ids(self.gt, self.min_frames)


def evaluate(args: argparse.Namespace, work: Path) -> VideoEvaluation:
    """Track, score the folders, then score the merge's grouping at each threshold."""
    from ..tracking.stage import check_result, run_tracking
    from ..tracking.videos import probe_video

    tracking: TrackingConfig = args.tracking
    matching: MatchingConfig = args.matching
    thresholds = parse_thresholds(args.thresholds)
    gt_all = read_mot(args.gt)
    if not gt_all:
        raise InputError(f"{args.gt} has no ground-truth boxes")
    if any(r.conf == 0 for r in gt_all):  # MOTChallenge 16+ marks boxes to ignore so; MOT15 has none
        log.warning("%s has rows with confidence 0; they are scored as people like every other row", args.gt)
    info = probe_video(args.video)
    started = time.monotonic()
    result = run_tracking(
        tracking, args.video, work / "persons", work / "status.json", mot_dir=work / "mot", show_progress=False
    )
    check_result(result)
    video = result.videos[0]
    tracked_at = time.monotonic()
    gt = [r for r in gt_all if r.frame <= video.frames]
    hypotheses = read_mot(video.mot_file) if video.mot_file else []
    scored = score_folders(scan_folders(work / "persons"), gt, hypotheses)
    evaluation = VideoEvaluation(
        settings=_settings(args, info, video.frames),
        fps=info.fps,
        gt=gt,
        tracks={"seen": video.tracks, "too short": video.too_short, "not confident": video.not_confident},
        folders=scored,
        before=Outcome([s.crops for s in scored], ident.mot_scores(gt, hypotheses)),
        tracked=ident.tracked_share(gt, hypotheses),
    )
    if scored:
        from ..matching.features import load_extractor

        evaluation.normalisation, evaluation.merges = merge_sweeps(
            scored,
            gt,
            hypotheses,
            lambda: load_extractor(matching),
            thresholds,
            matching.threshold_for,
            variants(args),
            not args.no_camera_normalisation,
        )
    evaluation.seconds = {"tracking": tracked_at - started, "scoring and merge sweep": time.monotonic() - tracked_at}
    return evaluation


def _settings(args: argparse.Namespace, info: VideoInfo, frames: int) -> str:
    t: TrackingConfig = args.tracking
    m: MatchingConfig = args.matching
    # ultralytics runs an exported model (.tflite, static .onnx) at its export size, whatever --imgsz says
    imgsz = f"imgsz {t.imgsz}" if t.model.endswith(".pt") else f"imgsz {t.imgsz} unless fixed by the export"
    weights = m.weights_file.name if m.weights_file else m.weights
    return (
        f"video `{args.video.name}`, {frames} of {info.frame_count} frames at {info.fps:g} fps, "
        f"{info.width}x{info.height}; GT `{args.gt}`; detector `{Path(t.model).name}` ({t.tracker}, {imgsz}, "
        f"conf {t.conf}, min-track {t.min_track_seconds:g} s and {t.min_track_frames} frames, "
        f"max-crops {t.max_crops}, "
        f"min-crop {t.min_crop_width}x{t.min_crop_height}{', edge crops kept' if t.keep_edge_crops else ''}); "
        f"re-ID {m.backbone}, weights `{weights}`, input {m.input_height}x{m.input_width}, "
        f"default threshold {m.threshold_for(True)} with per-camera normalisation, {m.threshold_for(False)} "
        f"without; IoU >= {ident.MIN_IOU}"
    )


def variants(args: argparse.Namespace) -> list[Variant]:
    """The plans to score: motion evidence off (``--no-motion``), on at each ``--link-bonus``, or both."""
    on = [Variant(True, bonus) for bonus in args.link_bonus]
    off = [Variant(False)]
    return off if args.no_motion else off + on if args.compare_motion else on
