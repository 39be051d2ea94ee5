#!/usr/bin/env python3
"""Step 2: serve live pipeline status on http://localhost:5001 (JSON; /metrics for Prometheus).

    python health_check.py
    curl http://localhost:5001/health/processing

Reads status.json on every request; never writes anything. See README.md for the endpoints.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import signal
import sys
from pathlib import Path

from reid.cli import EXIT_OK, ArgumentParser, add_logging_flags, run_reporting_errors, setup_logging
from reid.config import DEFAULT_PERSONS, DEFAULT_STATUS, HEALTH_HOST, HEALTH_PORT
from reid.errors import ReidError

log = logging.getLogger("health_check")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from reid.api import DEFAULT_STALL_AFTER_S

    parser = ArgumentParser(prog="health_check.py",
                            description="Serve the pipeline's live status as JSON: /health, /health/processing, "
                                        "/health/reid, /health/persons, and /metrics for Prometheus.")
    parser.add_argument("--host", default=HEALTH_HOST,
                        help="address to listen on; anything but loopback exposes the status to the network "
                             "(default: %(default)s)")
    parser.add_argument("--port", type=int, default=HEALTH_PORT,
                        help="TCP port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--status", type=Path, default=DEFAULT_STATUS, metavar="FILE",
                        help="status file written by the other scripts (default: %(default)s)")
    parser.add_argument("--persons", type=Path, default=DEFAULT_PERSONS, metavar="DIR",
                        help="person folders to list (default: %(default)s)")
    parser.add_argument("--stall-after", type=float, default=DEFAULT_STALL_AFTER_S, metavar="SECONDS",
                        help="report a running stage as stalled (HTTP 503) when it has not updated the status "
                             "for this long (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=8,
                        help="request worker threads (default: %(default)s)")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0-65535, not {args.port}")
    if args.stall_after <= 0:
        parser.error("--stall-after must be positive")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace) -> int:
    from waitress import create_server

    from reid.api import create_app

    if not args.verbose:
        # waitress warns "Task queue depth is N" whenever more clients than --threads are busy;
        # such requests only wait a few milliseconds, so that is not worth a line each
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    app = create_app({"STATUS_FILE": str(args.status), "PERSONS_DIR": str(args.persons),
                      "STALL_AFTER_S": args.stall_after})
    try:
        server = create_server(app, host=args.host, port=args.port, threads=args.threads, ident="reid-health")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ReidError(f"port {args.port} on {args.host} is already in use: stop the other server "
                            f"or pass --port N") from None
        raise ReidError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    if not is_loopback(args.host):
        log.warning("listening on %s: anyone who can reach this machine can read the status and the folder names",
                    args.host)
    port = server.socket.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host

    def stop(signum, frame):  # SIGTERM ends the server like Ctrl-C: cleanly, exit 0
        raise KeyboardInterrupt

    # installed before the ready line, so a SIGTERM sent as soon as it appears is handled too
    signal.signal(signal.SIGTERM, stop)
    try:
        print(f"Health monitor on http://{host}:{port}/health (status: {args.status}, persons: {args.persons}); "
              f"Ctrl-C stops it", flush=True)
        server.run()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        server.close()
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_reporting_errors(lambda: serve(args))


if __name__ == "__main__":
    sys.exit(main())
