"""Fault injection for the tests that kill a merge or an undo at every step.

``REID_FAULT_AT=<step>`` makes the process kill itself with SIGKILL when it reaches that
step (``enospc@<step>`` raises "No space left on device" there instead), so tests can prove
that the next run finishes or rolls back whatever was interrupted. ``REID_FAULT_TRACE=FILE``
appends every step reached to FILE, so a test can check that the kill tests cover them all.
Neither is set in normal use, and then this costs two dictionary lookups per step.
"""

from __future__ import annotations

import errno
import json
import os
import signal


def fault_point(*names: str) -> None:
    """A step of a merge or undo. It may have several names (``moved:3``, ``moved:renamed``,
    ``moved:last``), so a test can name a kind of step and not only an index."""
    trace = os.environ.get("REID_FAULT_TRACE")
    if trace:
        with open(trace, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(names) + "\n")
    wanted = os.environ.get("REID_FAULT_AT")
    if not wanted:
        return
    if wanted.startswith("enospc@") and wanted[len("enospc@") :] in names:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if wanted in names:
        os.kill(os.getpid(), signal.SIGKILL)
