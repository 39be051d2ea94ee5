"""Tracking one video on three threads, so that the detector never waits for the work around it.

The reader's thread decodes each frame and prepares the detector's input (``FrameReader``'s
``prepare``); the calling thread asks the gate and runs the model; a worker thread (``InOrder``)
runs the tracker on the model's output and everything after it: crops, annotation, progress. The
model call releases the GIL, so where a core is to spare the three overlap and the loop comes close
to the detector alone (BENCHMARKS.md, "The detector's ceiling": ``--threads 1`` on 2 cores).

Frames stay in order on every thread; the gate asks what the tracker holds only about a frame that
barely changed (``gate.Tracks``), and then waits for the worker to finish the frames before it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

_STOP = object()


class Stages(Protocol):
    """A tracker in the three steps the pipeline overlaps (``detector.PersonTracker``)."""

    def prepare(self, frame: np.ndarray) -> Any: ...
    def detect(self, prepared: Any) -> Any: ...
    def track(self, frame: np.ndarray, prepared: Any, raw: Any) -> Any: ...


class WholeTracker:
    """A tracker with only ``update(frame)``: all of it runs in the tracking step."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.prepare = None  # the reader yields bare frames

    def detect(self, prepared: Any) -> None:
        return None

    def track(self, frame: np.ndarray, prepared: Any, raw: Any) -> Any:
        return self.tracker.update(frame)


def stages_of(tracker: Any) -> Stages | WholeTracker:
    """``tracker`` itself when it comes in steps, else a wrapper that runs it whole."""
    if all(callable(getattr(tracker, step, None)) for step in ("prepare", "detect", "track")):
        return tracker
    return WholeTracker(tracker)


class InOrder:
    """Hands items to ``handle`` on one background thread, in the order they were put.

    The first exception ``handle`` raises is raised again in the putting thread, by the next
    ``put``, ``wait`` or ``close``; the items after it are dropped. Use as a context manager:
    leaving the block normally handles what is still queued, leaving it by an exception (such as
    Ctrl-C) drops it; either way the thread has ended when the block is left.
    """

    def __init__(self, handle: Callable[[Any], None], depth: int = 2) -> None:
        self.handle = handle
        self.items: queue.Queue = queue.Queue(maxsize=depth)
        self.failure: BaseException | None = None
        self.dropping = threading.Event()
        self.thread = threading.Thread(target=self._work, name="tracking", daemon=True)

    def __enter__(self) -> InOrder:
        self.thread.start()
        return self

    def __exit__(self, exc_type: type | None, *exc_info: object) -> None:
        self.close(finish=exc_type is None)

    def put(self, item: Any) -> None:
        self._raise_failure()
        self.items.put(item)

    def wait(self) -> None:
        """Until every item put so far is handled."""
        self.items.join()
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
                self.items.task_done()
