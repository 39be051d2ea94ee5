"""Serving the monitor app with waitress (a production WSGI server), stopped cleanly by Ctrl-C or SIGTERM."""

from __future__ import annotations

import errno
import ipaddress
import logging
import signal
from pathlib import Path

from ..core.errors import ReidError
from ..core.persons_dir import check_not_a_file

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str,
    port: int,
    threads: int,
    status_file: Path,
    persons_dir: Path,
    stall_after_s: float,
    verbose: bool = False,
) -> None:
    """Serve until Ctrl-C or SIGTERM; ``ReidError`` in one line when the port cannot be had or
    ``persons_dir`` names a file (a missing folder is fine: tracking may not have started yet)."""
    from waitress import create_server

    from .app import create_app

    if not verbose:
        # waitress warns "Task queue depth is N" whenever more clients than --threads are busy;
        # such requests only wait a few milliseconds, so that is not worth a line each
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    check_not_a_file(persons_dir)
    app = create_app({"STATUS_FILE": str(status_file), "PERSONS_DIR": str(persons_dir), "STALL_AFTER_S": stall_after_s})
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="reid-health")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ReidError(
                f"port {port} on {host} is already in use: stop the other server or pass --port N"
            ) from None
        raise ReidError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if not is_loopback(host):
        log.warning("listening on %s: anyone who can reach this machine can read the status and the folder names", host)
    address = f"http://{f'[{host}]' if ':' in host else host}:{server.socket.getsockname()[1]}"

    def stop(signum: int, frame: object) -> None:  # SIGTERM ends the server like Ctrl-C: cleanly, exit 0
        raise KeyboardInterrupt

    # installed before the ready line, so a SIGTERM sent as soon as it appears is handled too
    signal.signal(signal.SIGTERM, stop)
    try:
        print(
            f"Health monitor: dashboard {address}/ , JSON {address}/health (status: {status_file}, "
            f"persons: {persons_dir}); Ctrl-C stops it",
            flush=True,
        )
        server.run()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        server.close()
