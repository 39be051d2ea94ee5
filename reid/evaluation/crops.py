"""Measure how well the merge stage groups person folders, on any identity-labelled crops.

    python -m reid.evaluation.crops --labelled DIR [--backbone reid-0287] [--weights default|PATH|none]
        [--choose-on-half] [--seeds 0,1,2] [--no-camera-normalisation]

``DIR`` holds one folder per identity; a file name may start with a camera, ``<cam>_...``.
Each identity's crops are cut into person folders the way tracking fragments people
(``--fragment-size`` crops each, within each camera), so one identity becomes several
folders within and across cameras. Then the merge stage's own code runs on them (``sweep.py``): the crops
are embedded (``embed_folders``), each camera's mean crop embedding is subtracted when the
pipeline would do it (``normalise_per_camera``; ``--no-camera-normalisation`` turns it off),
and the plan is made at each threshold of a sweep (``decide_at``: splits, cannot-links and
crop-weighted average linkage). The result is scored with pairwise and BCubed precision and
recall (``scores.py``). ``--choose-on-half`` also chooses the threshold honestly, on half of
the identities, and reports it on the other half and for every folder size (``calibration.py``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..core.cli import (
    ArgumentParser,
    Flag,
    add_config_flags,
    add_input_size_flag,
    add_logging_flags,
    config_from_args,
    input_size_fields,
    run_reporting_errors,
    setup_logging,
)
from ..core.config import DEFAULT_THRESHOLDS, MatchingConfig
from ..matching.embedding import Extractor
from .calibration import hold_out
from .crops_report import format_held_out, format_report
from .labelled import cut, read_labelled
from .sweep import MemoryCache, evaluate, parse_thresholds

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m reid.evaluation.crops", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--labelled",
        type=Path,
        required=True,
        metavar="DIR",
        help="one folder per identity; file names may start with a camera: <cam>_...",
    )
    add_config_flags(parser, MatchingConfig(), FLAGS)
    add_input_size_flag(parser)
    parser.add_argument(
        "--fragment-size", type=int, default=4, help="crops per simulated person folder (default: %(default)s)"
    )
    parser.add_argument("--thresholds", default="0.10:0.95:0.05", help="sweep, start:stop:step (default: %(default)s)")
    parser.add_argument(
        "--no-camera-normalisation",
        action="store_true",
        help="compare the raw embeddings (by default each camera's mean crop embedding is subtracted when every "
        "camera has enough folders, as the merge stage does)",
    )
    parser.add_argument(
        "--choose-on-half",
        action="store_true",
        help="choose the threshold on half of the identities, report it on the other half and per folder size",
    )
    parser.add_argument("--seeds", default="0", help="identity splits for --choose-on-half, e.g. 0,1,2 (default: 0)")
    parser.add_argument(
        "--choice-thresholds",
        default="0.00:0.99:0.01",
        help="the fine sweep the threshold is chosen from (default: %(default)s)",
    )
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    if args.fragment_size < 1:
        parser.error("--fragment-size must be at least 1")
    try:
        args.seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds must be integers separated by commas, not {args.seeds!r}")
    args.config = config_from_args(parser, MatchingConfig, args, FLAGS, **input_size_fields(parser, args))
    return args


FLAGS = [
    Flag("--backbone", "backbone", "as for deeplearningg_reID.py", choices=sorted(DEFAULT_THRESHOLDS)),
    Flag("--weights", "weights", "default, PATH or none", "default|PATH|none"),
    Flag("--batch-size", "batch_size", "images per forward pass", "N"),
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)

    def run() -> int:
        from ..matching.features import load_extractor  # TensorFlow or OpenVINO: only when a network is needed

        config: MatchingConfig = args.config
        thresholds = parse_thresholds(args.thresholds)
        choice_thresholds = parse_thresholds(args.choice_thresholds)
        labelled = read_labelled(args.labelled)
        cache, normalise = MemoryCache(), not args.no_camera_normalisation

        def extractor() -> Extractor:
            return load_extractor(config)

        evaluation = evaluate(
            cut(labelled, args.fragment_size), extractor, thresholds, config.threshold_for, cache, normalise
        )
        weights = config.weights if config.weights_file is None else config.weights_file.name
        title = f"{config.backbone}, weights {weights}, {args.labelled.name}, {args.fragment_size} crops per folder"
        report = format_report(evaluation, title)
        if args.choose_on_half:
            held = hold_out(labelled, extractor, cache, choice_thresholds, args.seeds, args.fragment_size, normalise)
            report += "\n" + format_held_out(held)
        print(report)
        if args.output:
            args.output.write_text(report, encoding="utf-8")
        return 0

    return run_reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
