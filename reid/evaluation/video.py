"""Measure the count and the identities of the pipeline on videos with MOTChallenge ground truth.

    python -m reid.evaluation.video --video clip.mp4 --gt gt.txt --model yolov8n_int8.tflite \\
        --backbone reid-0287 [--thresholds 0.1:0.7:0.05] [--compare-motion] [--output report.md]
    python -m reid.evaluation.video --video cam0.mp4 --gt gt0.txt --video cam1.mp4 --gt gt1.txt ...

The videos are tracked as ``obj_counting.py`` tracks them (in one run, into one persons folder,
one folder per counted person, and their tracks in MOTChallenge format), and the result is asked
what a user of the count cares about: is everyone who stays at least 2 s counted (coverage), does
each folder show one person (purity), and how often is one person split into several folders?
Several videos are one count when their ground truth shares ids (cameras of one scene): a crop
is matched to its own video's ground truth, and a person seen by two cameras is one person
(``timeline.py``). IDF1, MOTA, ID switches and transfers (``motmetrics``) score the tracks box by
box. Then the merge stage's real plan (``decide_at`` after the per-camera normalisation it would
apply; no file is moved) is scored at each threshold: its splits, the folder pairs it merges
rightly and wrongly, and the same measures after it, with or without the motion evidence
(``--no-motion``, ``--compare-motion``, ``--link-bonus``; see ``video_merge.py``), and the plan
``deeplearningg_reID.py`` makes by default on its own. ``--keep DIR`` keeps the tracked run and
``--tracked DIR`` scores it again, or some of its videos alone, without tracking. How a box is
matched to a person: see ``identity.py``; the run itself: ``video_evaluation.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

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
from ..matching import linking
from ..matching import options as matching_options
from ..matching.start_times import parse_start_times
from ..tracking import options as tracking_options
from ..tracking.mot import read_mot
from . import video_tracking
from .sweep import parse_thresholds
from .video_evaluation import evaluate
from .video_report import format_report

# The matching flags whose names the tracking flags already use (--device) are offered as --reid-<name>.
_TRACKING_FIELDS = {flag.field for flag in tracking_options.FLAGS}
MATCHING_FLAGS = [flag for flag in matching_options.FLAGS if flag.field not in _TRACKING_FIELDS]
SHARED_FLAGS = [flag for flag in matching_options.FLAGS if flag.field in _TRACKING_FIELDS]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m reid.evaluation.video", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--video",
        type=Path,
        required=True,
        action="append",
        metavar="FILE",
        help="a video to track; repeat --video FILE --gt FILE for several videos whose ground truth shares ids "
        "(cameras of one scene): they are tracked in one run into one persons folder and scored as one count",
    )
    parser.add_argument(
        "--gt",
        type=Path,
        required=True,
        action="append",
        metavar="FILE",
        help="the MOTChallenge ground truth (frame,id,x,y,w,h,...) of the --video before it",
    )
    add_config_flags(parser, TrackingConfig(), tracking_options.FLAGS)
    add_config_flags(parser, MatchingConfig(), MATCHING_FLAGS)
    _add_shared_flags(parser)
    add_input_size_flag(parser)
    _add_merge_flags(parser)
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument("--keep", type=Path, metavar="DIR", help="track into DIR (new or empty) and keep it")
    kept.add_argument(
        "--tracked",
        type=Path,
        metavar="DIR",
        help="score the run an earlier --keep DIR kept instead of tracking again (its tracking flags apply); "
        "the --video files may be some of its videos: only their folders are scored",
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="also write the Markdown report here")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    if len(args.video) != len(args.gt):
        parser.error(f"each --video needs its --gt: {len(args.video)} --video but {len(args.gt)} --gt")
    try:
        args.link_bonus = [float(x) for x in args.link_bonus.split(",")]
    except ValueError:
        parser.error(f"--link-bonus must be numbers separated by commas, not {args.link_bonus!r}")
    args.tracking = config_from_args(parser, TrackingConfig, args, tracking_options.FLAGS)
    shared = {flag.field: getattr(args, f"reid_{flag.field}") for flag in SHARED_FLAGS}
    args.matching = config_from_args(
        parser, MatchingConfig, args, MATCHING_FLAGS, **shared, **input_size_fields(parser, args)
    )
    try:
        args.start_times = parse_start_times(args.start_times)
    except ValueError as exc:
        parser.error(f"--start-times: {exc}")
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
        "--start-times",
        action="append",
        default=[],
        metavar="VIDEO=TIME",
        help="when each video started, as deeplearningg_reID.py takes it: the plan then places the folders of "
        "synchronised cameras on their common ground (ground_plane.py)",
    )
    parser.add_argument(
        "--link-bonus",
        default=str(linking.LINK_BONUS),
        metavar="X[,Y...]",
        help="LINK_BONUS values to score the motion evidence with (default: %(default)s)",
    )


def check_inputs(args: argparse.Namespace) -> None:
    """Mistakes found before minutes of tracking: no video, no GT, a video twice, no weights file, a
    used --keep, a --tracked run that did not track the videos."""
    for video, gt in zip(args.video, args.gt, strict=True):
        for path, flag in ((video, "--video"), (gt, "--gt")):
            if not path.is_file():
                raise InputError(f"{flag} {path} is not a file")
        read_mot(gt)  # a malformed line is reported now
    if len({video.resolve() for video in args.video}) != len(args.video):
        raise InputError("a --video is named twice")
    if args.tracked is not None:
        run = video_tracking.load(args.tracked)
        for video in args.video:
            run.find(video)
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
        names = " + ".join(video.name for video in args.video)
        report = format_report(evaluation, f"{names}: count and identities")
        print(report)
        if args.output:
            args.output.write_text(report, encoding="utf-8")
        return 0

    return run_reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
