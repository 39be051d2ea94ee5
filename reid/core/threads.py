"""Threads that the operating system knows by name too, so that ``top -H``, ``ps -L`` and /proc show
which step of a run uses the CPU (BENCHMARKS.md, "The detector's ceiling", reads them from /proc).
Python gives its threads native names itself only from 3.14."""

from __future__ import annotations

import ctypes
import functools
import sys
import threading

_PR_SET_NAME = 15  # prctl(2): the calling thread's name, at most 15 bytes


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def name_this_thread(name: str) -> None:
    """Give the calling thread ``name`` in the operating system (Linux only; elsewhere nothing)."""
    libc = _libc() if sys.platform.startswith("linux") else None
    if libc is not None and hasattr(libc, "prctl"):
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


class NamedThread(threading.Thread):
    """A ``threading.Thread`` whose name the operating system sees too."""

    def run(self) -> None:
        name_this_thread(self.name)
        super().run()
