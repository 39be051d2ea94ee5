#!/usr/bin/env python3
"""Step 3: find person folders that show the same person and merge them, safely.

    python deeplearningg_reID.py              # show proposed merges, ask y/n, back up, merge
    python deeplearningg_reID.py --review-each   # answer each proposed split and group
    python deeplearningg_reID.py --review-server # answer them in a browser
    python deeplearningg_reID.py --dry-run    # only show them
    python deeplearningg_reID.py --undo       # restore the folders of the last merge

Progress goes to the "processing" and "reid" sections of status.json.
Options: docs/options.md; accuracy: docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from pathlib import Path

from reid.core.cli import EXIT_OK, run_reporting_errors, setup_logging
from reid.core.config import DEFAULT_PERSONS, DEFAULT_STATUS
from reid.matching.options import parse_args


def ask(question: str) -> str:
    """The line the person types after ``question`` ('' at the end of input)."""
    try:
        return input(question).strip()
    except EOFError:
        return ""


def undo_command(args: argparse.Namespace) -> str:
    """The command that undoes this run's merge: this script, with this run's folders, from here."""
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())  # e.g. .venv/bin/python
    command = [str(python), sys.argv[0] if sys.argv[0].endswith(".py") else "deeplearningg_reID.py", "--undo"]
    command += ["--persons", str(args.persons)] if args.persons != DEFAULT_PERSONS else []
    command += ["--status", str(args.status)] if args.status != DEFAULT_STATUS else []
    return shlex.join(command)


def run(args: argparse.Namespace) -> int:
    from reid.matching.run import MatchingRequest, run_matching

    request = MatchingRequest(
        args.persons,
        args.status,
        args.config,
        args.mode or "ask",
        args.report,
        False if args.no_progress or args.quiet else None,
        undo_command(args),
        args.ray,
        args.start_times,
        (args.host, args.port),
    )
    can_ask = sys.stdin is not None and sys.stdin.isatty()
    run_matching(request, ask if can_ask else None)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
