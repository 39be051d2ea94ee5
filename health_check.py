#!/usr/bin/env python3
"""Step 2: serve live pipeline status on http://localhost:5001 (a dashboard at /, JSON at /health).

    python health_check.py
    curl http://localhost:5001/health/processing

Reads status.json on every request; never writes anything. Endpoints: docs/status.md.
"""

from __future__ import annotations

import argparse
import sys

from reid.core.cli import EXIT_OK, run_reporting_errors, setup_logging
from reid.monitor.options import parse_args


def serve(args: argparse.Namespace) -> int:
    from reid.monitor.server import serve

    serve(args.host, args.port, args.threads, args.status, args.persons, args.stall_after, verbose=args.verbose)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_reporting_errors(lambda: serve(args))


if __name__ == "__main__":
    sys.exit(main())
