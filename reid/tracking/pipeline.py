"""Tracking one video on three threads, so that the detector never waits for the work around it.

The reader's thread decodes each frame and prepares the detector's input (``FrameReader``'s
``prepare``); the calling thread asks the gate and runs the model; a worker thread (``InOrder``)
runs the tracker on the model's output and everything after it: crops, annotation, progress. The
model call releases the GIL, so where a core is to spare the three overlap and the loop comes close
to the detector alone (BENCHMARKS.md, "The detector's ceiling": ``--threads 1`` on 2 cores). A
detector in copies runs on as many frames at once (``Detecting``), each on a thread of its own.

Frames stay in order on every thread; the gate asks what the tracker holds only about a frame that
barely changed (``gate.Tracks``), and then waits for the worker to finish the frame
``gate.TRACKS_BEHIND`` back, so that the frame between may still be detected meanwhile.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from ..core.threads import NamedThread, name_this_thread

_STOP = object()


class Stages(Protocol):
    """A tracker in the three steps the pipeline overlaps (``detector.PersonTracker``)."""

    copies: int  # frames ``detect`` may work on at once

    def prepare(self, frame: np.ndarray) -> Any: ...
    def detect(self, prepared: Any) -> Any: ...
    def track(self, frame: np.ndarray, prepared: Any, raw: Any) -> Any: ...


class WholeTracker:
    """A tracker with only ``update(frame)``: all of it runs in the tracking step."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.prepare = None  # the reader yields bare frames
        self.copies = 1

    def detect(self, prepared: Any) -> None:
        return None

    def track(self, frame: np.ndarray, prepared: Any, raw: Any) -> Any:
        return self.tracker.update(frame)


def stages_of(tracker: Any) -> Stages | WholeTracker:
    """``tracker`` itself when it comes in steps, else a wrapper that runs it whole."""
    if all(callable(getattr(tracker, step, None)) for step in ("prepare", "detect", "track")):
        return tracker
    return WholeTracker(tracker)


class Detecting:
    """Calls ``detect`` on ``copies`` frames at once, each on a thread of its own; one copy: in the
    calling thread. What it returns goes to the tracking step in frame order, which takes the output
    with ``output_of`` (it waits for a detection still running). A context manager: leaving the block
    lets the detections still running end (a Ctrl-C drops those not started)."""

    def __init__(self, detect: Callable[[Any], Any], copies: int) -> None:
        self.detect = detect
        self.pool = None
        if copies > 1:
            self.pool = ThreadPoolExecutor(copies, thread_name_prefix="detector", initializer=_name_native)

    def __enter__(self) -> Detecting:
        return self

    def __exit__(self, exc_type: type | None, *exc_info: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=exc_type is not None)

    def __call__(self, prepared: Any) -> Any:
        """The model's output for ``prepared``, or a ``Future`` of it."""
        return self.detect(prepared) if self.pool is None else self.pool.submit(self.detect, prepared)


def _name_native() -> None:
    name_this_thread(threading.current_thread().name)


def output_of(detected: Any) -> Any:
    """The model's output from what ``Detecting`` returned."""
    return detected.result() if isinstance(detected, Future) else detected


class InOrder:
    """Hands items to ``handle`` on one background thread, in the order they were put.

    The first exception ``handle`` raises is raised again in the putting thread, by the next
    ``put``, ``wait_for`` or ``close``; the items after it are dropped. Use as a context manager:
    leaving the block normally handles what is still queued, leaving it by an exception (such as
    Ctrl-C) drops it; either way the thread has ended when the block is left.
    """

    def __init__(self, handle: Callable[[Any], None], depth: int = 2) -> None:
        self.handle = handle
        self.items: queue.Queue = queue.Queue(maxsize=depth)
        self.failure: BaseException | None = None
        self.dropping = threading.Event()
        self.handled = 0  # items taken off the queue, handled or dropped
        self.progress = threading.Condition()
        self.thread = NamedThread(target=self._work, name="tracking", daemon=True)

    def __enter__(self) -> InOrder:
        self.thread.start()
        return self

    def __exit__(self, exc_type: type | None, *exc_info: object) -> None:
        self.close(finish=exc_type is None)

    def put(self, item: Any) -> None:
        self._raise_failure()
        self.items.put(item)

    def wait_for(self, count: int) -> None:
        """Until the first ``count`` items put are handled."""
        with self.progress:
            self.progress.wait_for(lambda: self.handled >= count or self.dropping.is_set())
        self._raise_failure()

    def close(self, finish: bool = True) -> None:
        if not finish:
            self.dropping.set()
        self.items.put(_STOP)
        self.thread.join()
        if finish:
            self._raise_failure()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            self.dropping.set()
            raise failure

    def _work(self) -> None:
        while True:
            item = self.items.get()
            try:
                if item is _STOP:
                    return
                if not self.dropping.is_set():
                    self.handle(item)
            except BaseException as exc:  # raised again in the putting thread
                self.failure = exc
                self.dropping.set()
            finally:
                with self.progress:
                    self.handled += 1
                    self.progress.notify_all()
