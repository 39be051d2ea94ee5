"""Measure the count and the identities of the pipeline on a video with MOTChallenge ground truth.

    python -m reid.evaluation.video --video clip.mp4 --gt gt.txt --model yolov8n_int8.tflite \\
        --backbone reid-0287 [--thresholds 0.1:0.7:0.05] [--compare-motion] [--output report.md]

The video is tracked as ``obj_counting.py`` tracks it (one folder per counted person, and its
tracks in MOTChallenge format), and the result is asked what a user of the count cares about:
is everyone who stays at least 2 s counted (coverage), does each folder show one person
(purity), and how often is one person split into several folders? IDF1, MOTA and ID switches
(``motmetrics``) score the tracks box by box. Then the merge stage's real plan (``decide_at``
after the per-camera normalisation it would apply; no file is moved) is scored at each threshold:
its splits, the folder pairs it merges rightly and wrongly, and the same measures after it, with
or without the motion evidence (``--no-motion``, ``--compare-motion``, ``--link-bonus``; see
``video_merge.py``). How a box is matched to a person: see ``identity.py``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.cli import (
    ArgumentParser,
    add_config_flags,
    add_input_size_flag,
    add_logging_flags,
    config_from_args,
    input_size_fields,
    run_reporting_errors,
    setup_logging,
)
from ..core.config import MatchingConfig, TrackingConfig
from ..core.errors import InputError
from ..core.persons import parse_person_id, read_track_metadata
from ..matching import linking
from ..matching import options as matching_options
from ..matching.camera import Normalisation
from ..matching.folders import Folder, scan_folders
from ..tracking import options as tracking_options
from ..tracking.mot import MotRow, read_mot
from . import identity as ident
from .crops import parse_thresholds
from .video_merge import MergeSweep, Outcome, Variant, merge_sweeps
from .video_report import MIN_VISIBLE_S, format_report

if TYPE_CHECKING:
    from ..tracking.videos import VideoInfo

log = logging.getLogger(__name__)


@dataclass
class FolderScore:
    """One person folder: whom its saved crops show, and whom all the boxes of its track show."""

    folder: Folder
    person_id: int
    crop_ids: list[int | None]
    crops: ident.Identity
    boxes: ident.Identity
    span: tuple[int, int]  # first and last frame of its track (from 0)
    by_file: dict[str, int | None] = field(default_factory=dict)  # crop file name -> its GT id


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


def _xywh(box: Sequence[float]) -> ident.Box:
    x1, y1, x2, y2 = box
    return (x1, y1, x2 - x1, y2 - y1)


def score_folders(folders: Sequence[Folder], gt: list[MotRow], hypotheses: list[MotRow]) -> list[FolderScore]:
    """Each folder's identity from its ``track.json`` crops (crop frame f is GT frame f + 1, boxes
    x1,y1,x2,y2) and from every box of its track in the MOT file (ids = folder numbers)."""
    gt_frames, tracks = ident.by_frame(gt), ident.by_id(hypotheses)
    scored = []
    for folder in folders:
        person_id = parse_person_id(folder.name)
        if person_id is None:
            continue
        metadata = read_track_metadata(folder.path) or {}
        crops = metadata.get("crops") or []
        crop_ids = ident.match_boxes(gt_frames, [(c["frame"] + 1, _xywh(c["box"])) for c in crops])
        box_ids = ident.match_boxes(gt_frames, [(r.frame, (r.x, r.y, r.w, r.h)) for r in tracks.get(person_id, [])])
        span = (metadata.get("first_frame", -1), metadata.get("last_frame", -1))
        by_file = {c["file"]: gt_id for c, gt_id in zip(crops, crop_ids, strict=True)}
        crop_identity, box_identity = ident.identity_of(crop_ids), ident.identity_of(box_ids)
        scored.append(FolderScore(folder, person_id, crop_ids, crop_identity, box_identity, span, by_file))
    return scored


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


# The matching flags whose names the tracking flags already use (--device) are offered as --reid-<name>.
_TRACKING_FIELDS = {flag.field for flag in tracking_options.FLAGS}
MATCHING_FLAGS = [flag for flag in matching_options.FLAGS if flag.field not in _TRACKING_FIELDS]
SHARED_FLAGS = [flag for flag in matching_options.FLAGS if flag.field in _TRACKING_FIELDS]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m reid.evaluation.video", description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, required=True, metavar="FILE", help="the video to track")
    parser.add_argument(
        "--gt", type=Path, required=True, metavar="FILE", help="its MOTChallenge ground truth (frame,id,x,y,w,h,...)"
    )
    add_config_flags(parser, TrackingConfig(), tracking_options.FLAGS)
    add_config_flags(parser, MatchingConfig(), MATCHING_FLAGS)
    _add_shared_flags(parser)
    add_input_size_flag(parser)
    _add_merge_flags(parser)
    parser.add_argument("--keep", type=Path, metavar="DIR", help="track into DIR (new or empty) and keep it")
    parser.add_argument("--output", type=Path, metavar="FILE", help="also write the Markdown report here")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    try:
        args.link_bonus = [float(x) for x in args.link_bonus.split(",")]
    except ValueError:
        parser.error(f"--link-bonus must be numbers separated by commas, not {args.link_bonus!r}")
    args.tracking = config_from_args(parser, TrackingConfig, args, tracking_options.FLAGS)
    shared = {flag.field: getattr(args, f"reid_{flag.field}") for flag in SHARED_FLAGS}
    args.matching = config_from_args(
        parser, MatchingConfig, args, MATCHING_FLAGS, **shared, **input_size_fields(parser, args)
    )
    return args


def _add_shared_flags(parser: argparse.ArgumentParser) -> None:
    """The re-ID flags named like a tracking flag, as --reid-<name> (the tracking one is the detector's)."""
    for flag in SHARED_FLAGS:
        default = getattr(MatchingConfig(), flag.field)
        parser.add_argument(
            f"--reid-{flag.name[2:]}",
            dest=f"reid_{flag.field}",
            default=default,
            type=flag.type or type(default),
            metavar=flag.metavar,
            help=f"re-ID network: {flag.help} (default: %(default)s)",
        )


def _add_merge_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--thresholds", default="0.10:0.90:0.05", help="merge sweep, start:stop:step (default: %(default)s)"
    )
    parser.add_argument(
        "--no-camera-normalisation",
        action="store_true",
        help="compare raw embeddings (by default each camera's mean is subtracted when the merge stage would do it)",
    )
    motion = parser.add_mutually_exclusive_group()
    motion.add_argument("--no-motion", action="store_true", help="plan without the motion evidence (motion.py)")
    motion.add_argument(
        "--compare-motion", action="store_true", help="score the plan both without and with the motion evidence"
    )
    parser.add_argument(
        "--link-bonus",
        default=str(linking.LINK_BONUS),
        metavar="X[,Y...]",
        help="LINK_BONUS values to score the motion evidence with (default: %(default)s)",
    )


def check_inputs(args: argparse.Namespace) -> None:
    """Mistakes found before minutes of tracking: no video, no GT, no weights file, a used --keep."""
    for path, flag in ((args.video, "--video"), (args.gt, "--gt")):
        if not path.is_file():
            raise InputError(f"{flag} {path} is not a file")
    read_mot(args.gt)  # a malformed line is reported now
    parse_thresholds(args.thresholds)
    weights = args.matching.weights_file
    if weights is not None and not weights.is_file():
        raise InputError(f"--weights {weights} is not a file")
    if args.keep is not None and args.keep.exists() and (not args.keep.is_dir() or any(args.keep.iterdir())):
        raise InputError(f"--keep {args.keep} must be a new or empty folder")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)

    def run() -> int:
        check_inputs(args)
        # TensorFlow and torch in one process segfault once ultralytics loads triton; tracking
        # runs on the CPU here and never needs it, so hide it before anything imports torch.
        sys.modules.setdefault("triton", None)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            evaluation = evaluate(args, args.keep)
        else:
            with tempfile.TemporaryDirectory(prefix="reid-video-eval-") as work:
                evaluation = evaluate(args, Path(work))
        report = format_report(evaluation, f"{args.video.name}: count and identities")
        print(report)
        if args.output:
            args.output.write_text(report, encoding="utf-8")
        return 0

    return run_reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
