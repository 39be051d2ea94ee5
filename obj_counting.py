#!/usr/bin/env python3
"""Step 1: track persons in videos with YOLOv8 and save one folder of crops per person.

    python obj_counting.py                       # every video in videos/ -> persons/id_<N>/
    python obj_counting.py --videos clip.mp4 --max-frames 300
    python obj_counting.py --videos rtsp://user@camera/stream --duration 600   # password: --credentials

Writes progress to the "counting" section of status.json. Every option: docs/options.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from reid.core.cli import EXIT_OK, EXIT_PARTIAL, run_reporting_errors, setup_logging
from reid.core.errors import InputError
from reid.tracking.options import parse_args

if TYPE_CHECKING:
    from reid.tracking.sources import Source


def track(args: argparse.Namespace) -> int:
    from reid.tracking.sources import parse_sources
    from reid.tracking.stage import check_result, format_summary, run_tracking

    sources = parse_sources(args.videos, args.credentials, os.environ)
    check_videos(sources)
    live = sum(source.is_live for source in sources)
    if live > 1 and not args.config.duration_s and args.workers < live and args.ray is None:
        raise InputError(
            f"{live} live sources with --workers {args.workers}: the ones without a worker would wait for Ctrl-C; "
            f"give --workers {live} (one per camera), or --duration SECONDS"
        )
    result = run_tracking(
        args.config,
        [source if source.is_live else source.path for source in sources],
        args.persons,
        args.status,
        annotated_dir=args.save_video,
        mot_dir=args.save_mot,
        reprocess=args.reprocess,
        show_progress=False if args.no_progress or args.quiet else None,
        workers=args.workers,
        ray_address=args.ray,
    )
    print(format_summary(result, args.persons))
    check_result(result)
    return EXIT_PARTIAL if result.failed else EXIT_OK


def check_videos(sources: list[Source]) -> None:
    """A missing or empty videos folder: say what goes there, and offer the bundled example clip."""
    from reid.tracking.example import no_videos_error
    from reid.tracking.videos import find_videos

    for source in sources:
        if source.is_live or source.path.is_file():  # a live source is opened when its turn comes
            continue
        try:
            find_videos(source.path)
        except InputError as exc:
            raise no_videos_error(source.path, exc) from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_reporting_errors(lambda: track(args))


if __name__ == "__main__":
    sys.exit(main())
