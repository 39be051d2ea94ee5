"""health_check.py's command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.cli import ArgumentParser, add_logging_flags
from ..core.config import DEFAULT_PERSONS, DEFAULT_STATUS, HEALTH_HOST, HEALTH_PORT, STALL_AFTER_S


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="health_check.py",
        description="Serve the pipeline's live status: a dashboard at /, and JSON at /health, "
        "/health/processing, /health/reid, /health/persons; /metrics for Prometheus.",
    )
    parser.add_argument(
        "--host",
        default=HEALTH_HOST,
        help="address to listen on; anything but loopback exposes the status to the network (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=HEALTH_PORT, help="TCP port; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--status",
        type=Path,
        default=DEFAULT_STATUS,
        metavar="FILE",
        help="status file written by the other scripts (default: %(default)s)",
    )
    parser.add_argument(
        "--persons",
        type=Path,
        default=DEFAULT_PERSONS,
        metavar="DIR",
        help="person folders to list (default: %(default)s)",
    )
    parser.add_argument(
        "--stall-after",
        type=float,
        default=STALL_AFTER_S,
        metavar="SECONDS",
        help="report a running stage as stalled (HTTP 503) when it has not updated the status "
        "for this long (default: %(default)s)",
    )
    parser.add_argument("--threads", type=int, default=8, help="request worker threads (default: %(default)s)")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0-65535, not {args.port}")
    if args.stall_after <= 0:
        parser.error("--stall-after must be positive")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    return args
