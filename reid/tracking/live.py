"""Reading a live source (a camera stream or a webcam) that may drop and come back.

``LiveReader`` yields ``(frame_index, frame)`` like ``videos.FrameReader`` until ``duration_s``
has passed, ``stop()`` is called or the consumer stops (Ctrl-C). A stream that stops sending
frames is reopened with a growing, bounded wait (``backoff``), each try logged and counted in
``reconnects``; one that stays away longer than ``give_up_s`` ends with ``error`` set. A source
that cannot be opened at the start is an ``InputError`` at once: a wrong URL or password is
told in one line, not retried for minutes. Only ``Source.label`` (no password) is logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator

# FFmpeg's own complaints ("401 Unauthorized", "Connection refused") would print past our one
# line and could carry the URL; set before cv2 loads FFmpeg, as videos.py does.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ..core.errors import InputError  # noqa: E402
from .sources import WEBCAM, Source  # noqa: E402

log = logging.getLogger(__name__)

OPEN_TIMEOUT_MS = 5000  # how long FFmpeg waits for a stream to answer
READ_TIMEOUT_MS = 5000  # and for the next frame before the stream counts as dropped
FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 10.0
GIVE_UP_S = 120.0


def backoff(attempt: int, first: float = FIRST_WAIT_S, longest: float = LONGEST_WAIT_S) -> float:
    """The wait before reconnect try ``attempt`` (1, 2, ...): doubling from ``first``, at most ``longest``."""
    return min(longest, first * 2 ** (attempt - 1))


def open_capture(source: Source) -> cv2.VideoCapture:
    if source.kind == WEBCAM:
        return cv2.VideoCapture(source.capture_arg)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
    return cv2.VideoCapture(source.target, cv2.CAP_FFMPEG, params)


class LiveReader:
    """Frames of a live source, reconnecting when it drops. Use in a ``with`` block."""

    def __init__(self, source: Source, duration_s: float = 0.0, give_up_s: float = GIVE_UP_S) -> None:
        self.source = source
        self.duration_s = duration_s  # 0: until stopped
        self.give_up_s = give_up_s
        self.reconnects = 0
        self.frames_read = 0
        self.error: str | None = None
        self.started = time.monotonic()
        self._stopped = threading.Event()
        self._capture: cv2.VideoCapture | None = None

    def __enter__(self) -> LiveReader:
        self._capture = open_capture(self.source)
        if not self._capture.isOpened():
            self._capture.release()
            raise InputError(f"{self.source.label} cannot be opened (wrong address or password, or not reachable)")
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def stop(self) -> None:
        self._stopped.set()

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def _should_stop(self) -> bool:
        return self._stopped.is_set() or (self.duration_s > 0 and self.uptime_s >= self.duration_s)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        if self._capture is None:
            raise RuntimeError("use LiveReader in a with block")
        while not self._should_stop():
            ok, frame = self._capture.read()
            if ok and frame is not None:
                yield self.frames_read, frame
                self.frames_read += 1
            elif not self._reconnect():
                return

    def _reconnect(self) -> bool:
        """Reopen the dropped source; False when stopped meanwhile or it stayed away too long."""
        lost = time.monotonic()
        attempt = 0
        log.warning("%s: the stream dropped; reconnecting", self.source.label)
        while not self._should_stop():
            if time.monotonic() - lost > self.give_up_s:
                self.error = f"the stream stayed away for more than {self.give_up_s:.0f} s"
                log.error("%s: %s; giving up", self.source.label, self.error)
                return False
            attempt += 1
            if self._stopped.wait(backoff(attempt)):
                return False
            self._capture.release()
            self._capture = open_capture(self.source)
            if self._capture.isOpened():
                self.reconnects += 1
                log.warning("%s: reconnected (try %d, reconnect %d)", self.source.label, attempt, self.reconnects)
                return True
            log.info("%s: reconnect try %d failed", self.source.label, attempt)
        return False
