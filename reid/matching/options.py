"""deeplearningg_reID.py's command line: every flag, its default (from ``MatchingConfig``) and its help."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.backbones import BACKBONES
from ..core.cli import (
    ArgumentParser,
    Flag,
    add_config_flags,
    add_folder_flags,
    add_input_size_flag,
    add_logging_flags,
    add_ray_flag,
    config_from_args,
    input_size_fields,
)
from ..core.config import DEFAULT_THRESHOLDS, MatchingConfig
from .start_times import parse_start_times

KERAS = [name for name, spec in BACKBONES.items() if spec.kind == "keras"]
REID = [name for name, spec in BACKBONES.items() if spec.kind == "openvino"]
THRESHOLDS = ", ".join(f"{name} {value}" for name, value in DEFAULT_THRESHOLDS.items())
FLAGS = [
    Flag(
        "--threshold",
        "threshold",
        f"merge folders whose average cosine similarity is at least this (default per "
        f"backbone: {THRESHOLDS}; see docs/accuracy.md)",
        type=float,
    ),
    Flag(
        "--backbone",
        "backbone",
        f"network for the features: ImageNet classifiers run by Keras ({', '.join(KERAS)}), or networks trained "
        f"to tell people apart, run by OpenVINO ({', '.join(REID)}), far more accurate (see docs/accuracy.md)",
        choices=list(BACKBONES),
    ),
    Flag(
        "--weights",
        "weights",
        "'default': the backbone's official weights (Keras' ImageNet file, or the re-ID model's file, downloaded "
        "into $REID_MODELS or ~/.cache/reid/models and checked against its sha256; 'imagenet' is the Keras "
        "backbones' older name for it); a local file (an OpenVINO .xml with its .bin beside it, or an .onnx, for "
        "the re-ID backbones); or 'none' for random weights (Keras, tests only)",
        "default|PATH|none",
    ),
    Flag("--batch-size", "batch_size", "images per forward pass", "N"),
    Flag(
        "--device",
        "device",
        "where the network runs: auto (a GPU when TensorFlow finds CUDA; OpenVINO's CPU), cpu, cuda, cuda:N "
        "(Keras backbones), or an OpenVINO device such as GPU",
        "DEVICE",
    ),
]


# --report without a file name: the page goes into the persons folder, beside the folders it shows
REPORT_NAME = "review.html"
REPORT_BESIDE_FOLDERS = Path(REPORT_NAME)
DEFAULT_HOST = "127.0.0.1"  # --review-server: this machine only, unless told otherwise
DEFAULT_PORT = 5002  # the monitor's is 5001


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, checked; ``args.config`` holds the matching settings, ``args.mode`` ask/yes/dry-run/undo."""
    parser = ArgumentParser(
        prog="deeplearningg_reID.py",
        description="Find person folders that show the same person (deep features + cosine similarity) and "
        "merge them after a backup.",
        epilog="Exit codes: 0 done (also when nothing needed merging or you answered n); 1 error; 2 bad arguments; "
        "130 interrupted (run again: an interrupted merge is finished first).",
    )
    add_folder_flags(parser, "person folders made by obj_counting.py", "status file shared with the other scripts")
    add_config_flags(parser, MatchingConfig(), FLAGS)
    add_input_size_flag(parser)
    _add_mode_flags(parser)
    parser.add_argument(
        "--report",
        type=Path,
        nargs="?",
        const=REPORT_BESIDE_FOLDERS,
        metavar="FILE.html",
        help="also write a review page of the proposed merges (contact sheets, scores, near-misses) to open "
        f"before answering; works with --dry-run. Without FILE.html: {REPORT_NAME} in the persons folder",
    )
    parser.add_argument(
        "--start-times",
        action="append",
        default=[],
        metavar="VIDEO=TIME",
        help="when each video started: folders of synchronised cameras that see one ground are then placed on it, "
        "linked when in one place at the same time and kept apart when far apart, and the plan says when the "
        "folders it joins were in view together. VIDEO: its file name as in track.json; TIME: an ISO 8601 "
        "date-time (2026-03-01T10:00:00) or seconds (0, 12.5). Repeat it, or separate several with commas",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"where --review-server listens (default {DEFAULT_HOST}: this machine only); another address lets "
        "other machines answer, with the token",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"the port of --review-server (default {DEFAULT_PORT}; 0: a free one)",
    )
    add_ray_flag(parser, "embed the crops (for large crop sets)", "the comparison and the merge stay here")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    if args.report is not None and args.mode in ("undo", "forget"):
        flag = "--undo" if args.mode == "undo" else "--forget-answers"
        parser.error(f"--report shows a merge plan; it cannot be used with {flag}")
    if args.start_times and args.mode in ("undo", "forget"):
        flag = "--undo" if args.mode == "undo" else "--forget-answers"
        parser.error(f"--start-times describes the plan; it cannot be used with {flag}")
    for flag, given in (("--host", args.host != DEFAULT_HOST), ("--port", args.port != DEFAULT_PORT)):
        if given and args.mode != "server":
            parser.error(f"{flag} is where --review-server listens; it needs --review-server")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: a port is 0 to 65535 (0: a free one)")
    try:
        args.start_times = parse_start_times(args.start_times)
    except ValueError as exc:
        parser.error(f"--start-times: {exc}")
    if args.report is REPORT_BESIDE_FOLDERS:
        args.report = args.persons / REPORT_NAME  # with the folders it shows, out of the code's folder
    args.config = config_from_args(parser, MatchingConfig, args, FLAGS, **input_size_fields(parser, args))
    return args


def _add_mode_flags(parser: argparse.ArgumentParser) -> None:
    """What to do with the plan: ask (the default), merge without asking, only show it, or undo."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--yes", "-y", action="store_const", dest="mode", const="yes", help="merge without asking")
    mode.add_argument(
        "--review-each",
        action="store_const",
        dest="mode",
        const="each",
        help="ask y/n for each proposed split and group (or name a folder to leave out of a group), "
        "then carry out the ones accepted",
    )
    mode.add_argument(
        "--review-server",
        action="store_const",
        dest="mode",
        const="server",
        help="serve the review page on --host:--port with yes / no on every split, group and folder, and a "
        "button that carries out the approved ones; the address printed holds a token every request needs",
    )
    mode.add_argument(
        "--dry-run",
        action="store_const",
        dest="mode",
        const="dry-run",
        help="show the proposed merges and change nothing",
    )
    mode.add_argument(
        "--forget-answers",
        action="store_const",
        dest="mode",
        const="forget",
        help="clear the answers --review-each kept in the persons folder (a copy goes to backup_before_merge)",
    )
    mode.add_argument(
        "--undo",
        action="store_const",
        dest="mode",
        const="undo",
        help="restore the folders of the last merge from persons/backup_before_merge",
    )
