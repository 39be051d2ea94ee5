"""Reading a live source (a camera stream or a webcam) that may drop and come back.

``LiveReader`` yields ``(frame_index, frame)`` like ``videos.FrameReader`` until ``duration_s``
has passed, ``stop()`` is called or the consumer stops (Ctrl-C). Frames are read on a background
thread; a consumer slower than the camera gets the newest frames, the others are dropped and
counted (``dropped``), so it never falls more than ``BUFFERED`` frames behind. A source that states
its length (a video file served over HTTP) is ``finite``: every frame is read, none dropped, and its
end ends it (no reconnecting, which would start it over). A stream that stops sending
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
from collections import deque
from collections.abc import Iterator
from pathlib import Path

# FFmpeg's own complaints ("401 Unauthorized", "Connection refused") would print past our one
# line and could carry the URL; set before cv2 loads FFmpeg, as videos.py does.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ..core.config import LIVE_GIVE_UP_S  # noqa: E402
from ..core.errors import InputError  # noqa: E402
from ..core.threads import NamedThread
from .sources import WEBCAM, Source  # noqa: E402
from .videos import FALLBACK_FPS, VideoInfo  # noqa: E402

log = logging.getLogger(__name__)

OPEN_TIMEOUT_MS = 5000  # how long FFmpeg waits for a stream to answer
READ_TIMEOUT_MS = 5000  # and for the next frame before the stream counts as dropped
FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 10.0
BUFFERED = 8  # frames held for a consumer slower than the camera: the latency it may fall behind


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

    def __init__(self, source: Source, duration_s: float = 0.0, give_up_s: float = LIVE_GIVE_UP_S) -> None:
        self.source = source
        self.duration_s = duration_s  # 0: until stopped
        self.give_up_s = give_up_s
        self.reconnects = 0
        self.frames_read = 0
        self.error: str | None = None
        self.started = time.monotonic()
        self._stopped = threading.Event()
        self._capture: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None  # read on opening, to know the frame size; yielded first
        self._size: tuple[int, int] | None = None
        self.dropped = 0  # frames dropped because the consumer fell behind the camera
        self.finite = False
        self._buffer: deque[tuple[int, np.ndarray]] = deque(maxlen=BUFFERED)
        self._ready = threading.Condition()
        self._ended = False
        self._ended_at: float | None = None
        self._closing = threading.Event()  # the consumer is gone: the reader thread ends
        self._pump: threading.Thread | None = None

    def __enter__(self) -> LiveReader:
        self._capture = open_capture(self.source)
        ok, self._first = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok or self._first is None:
            opened = self._capture.isOpened()
            self._capture.release()
            self._capture = None
            if opened:
                raise InputError(f"{self.source.label} opened but sent no frame within {READ_TIMEOUT_MS // 1000} s")
            raise InputError(f"{self.source.label} cannot be opened (wrong address or password, or not reachable)")
        self._size = self._first.shape[:2]
        # a file served over HTTP states its length: it is read whole, no frame dropped, and its end is the end
        # (an RTSP server may state one too, for the file behind a camera-like stream: that stays live)
        http = self.source.target.lower().startswith(("http://", "https://"))
        self.finite = http and self._capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0
        self.started = time.monotonic()
        return self

    @property
    def info(self) -> VideoInfo:
        """The source as the tracking stage describes a video: size of the first frame, the frame rate
        the source states (``FALLBACK_FPS`` when it states none), no known length."""
        if self._size is None:
            raise RuntimeError("use LiveReader in a with block")
        fps = self._capture.get(cv2.CAP_PROP_FPS) if self._capture is not None else 0.0
        if not 0 < fps <= 1000:  # also NaN
            fps = FALLBACK_FPS
        height, width = self._size
        path = Path(f"{self.source.file_stem}.live")  # only its stem is used: crop and output file names
        return VideoInfo(path, 0, float(fps), width, height, label=self.source.label, live=True)

    def __exit__(self, *exc_info) -> None:
        self._end_pump()
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def stop(self) -> None:
        self._stopped.set()

    @property
    def uptime_s(self) -> float:
        """Seconds since the source opened, until the reader stopped reading it."""
        return (self._ended_at or time.monotonic()) - self.started

    def _should_stop(self) -> bool:
        return self._stopped.is_set() or (self.duration_s > 0 and self.uptime_s >= self.duration_s)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """Frames as they come, read on a background thread. A consumer slower than the camera gets
        the newest ``BUFFERED`` frames: older ones are dropped (``dropped``), so it never falls
        further behind; each frame keeps its index in the stream, so time stamps stay true."""
        if self._capture is None:
            raise RuntimeError("use LiveReader in a with block")
        self._pump = NamedThread(target=self._read_all, name="live-reader", daemon=True)
        self._pump.start()
        try:
            while True:
                with self._ready:
                    while not self._buffer and not self._ended:
                        self._ready.wait(0.5)
                    if not self._buffer:
                        return
                    item = self._buffer.popleft()
                    self._ready.notify_all()  # room for a file's next frame
                yield item
        finally:
            self._end_pump()

    def _read_all(self) -> None:
        """The background reader: every frame into the buffer until stopped, given up or past the duration."""
        try:
            if self._first is not None:
                first, self._first = self._first, None
                self._add(first)
            while not self._should_stop() and not self._closing.is_set():
                ok, frame = self._capture.read()
                if ok and frame is not None:
                    self._add(frame)
                elif self.finite or not self._reconnect():
                    return
        finally:
            with self._ready:
                self._ended_at = time.monotonic()
                self._ended = True
                self._ready.notify_all()

    def _add(self, frame: np.ndarray) -> None:
        with self._ready:
            while self.finite and len(self._buffer) == self._buffer.maxlen and not self._closing.is_set():
                self._ready.wait(0.1)  # a file waits for its consumer
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1  # the deque drops the oldest
            self._buffer.append((self.frames_read, frame))
            self.frames_read += 1
            self._ready.notify()

    def _end_pump(self) -> None:
        self._closing.set()
        self._stopped.set()  # also ends a wait between reconnect tries
        if self._pump is not None and self._pump is not threading.current_thread():
            self._pump.join(timeout=READ_TIMEOUT_MS / 1000 + 5)
            self._pump = None

    def _reconnect(self) -> bool:
        """Reopen the dropped source; False when stopped meanwhile or it stayed away too long."""
        lost = time.monotonic()
        attempt = 0
        log.warning("%s: the stream dropped; reconnecting", self.source.label)
        while not self._should_stop() and not self._closing.is_set():
            if time.monotonic() - lost > self.give_up_s:
                self.error = f"the stream stayed away for more than {self.give_up_s:g} s: given up"
                log.error("%s: %s", self.source.label, self.error)
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
