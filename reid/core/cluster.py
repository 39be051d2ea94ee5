"""Connecting to Ray (``--ray [ADDRESS]`` of both scripts): a local instance for the run, or a running cluster.

Only this module and the stages' ``cluster.py`` modules (their Ray tasks) import Ray, and only when
``--ray`` is given. The ``reid`` package is shipped to the workers with the tasks; a cluster's nodes
need this project's requirements installed.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from .errors import ReidError, first_line

PACKAGE = Path(__file__).resolve().parents[1]  # reid/, shipped to the cluster's workers


def connect(address: str) -> bool:
    """Start Ray on this machine (``address`` "") or join the cluster at ``address``; whether this call
    started or joined it (then ``disconnect`` ends that), False when Ray was running in this process."""
    import ray

    if ray.is_initialized():
        return False
    if address and address != "auto":
        check_reachable(address)
    try:
        ray.init(
            address=address or None,
            include_dashboard=False,
            logging_level=logging.ERROR,  # its start-up notes (token authentication ...) are Ray's
            log_to_driver=False,  # worker output stays in Ray's logs; problems come back as results
            runtime_env={"py_modules": [str(PACKAGE)]},
        )
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError ...
        raise ReidError(f"--ray {address or '(local)'}: cannot start or reach Ray: {first_line(exc)}") from None
    return True


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """``ReidError`` at once when nothing answers at ``address`` (``host:port`` or ``ray://host:port``):
    Ray itself would retry for minutes, printing warnings.

    >>> check_reachable("no-port-here")
    Traceback (most recent call last):
    ...
    reid.core.errors.ReidError: --ray no-port-here: expected HOST:PORT (such as head-node:6379) or ray://HOST:PORT
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ReidError(f"--ray {address}: expected HOST:PORT (such as head-node:6379) or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        hint = "start one with ray start --head, or give --ray alone for one on this machine"
        raise ReidError(f"--ray {address}: no Ray cluster answers there ({reason}); {hint}") from None


def disconnect(connected: bool) -> None:
    if connected:
        import ray

        ray.shutdown()
