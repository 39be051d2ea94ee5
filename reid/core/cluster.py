"""Connecting to Ray (``--ray [ADDRESS]`` of both scripts): a local instance for the run, or a running cluster.

Only this module and the stages' ``cluster.py`` modules (their Ray tasks) import Ray, and only when
``--ray`` is given. The ``reid`` package is shipped to the workers with the tasks; a cluster's nodes
need this project's requirements installed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import ReidError, first_line

PACKAGE = Path(__file__).resolve().parents[1]  # reid/, shipped to the cluster's workers


def connect(address: str) -> bool:
    """Start Ray on this machine (``address`` "") or join the cluster at ``address``; whether this call
    started or joined it (then ``disconnect`` ends that), False when Ray was running in this process."""
    import ray

    if ray.is_initialized():
        return False
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


def disconnect(connected: bool) -> None:
    if connected:
        import ray

        ray.shutdown()
