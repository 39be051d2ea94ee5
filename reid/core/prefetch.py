"""Run an iterator on a background thread a few items ahead of its consumer.

Decoding video frames and reading images release the GIL (OpenCV), so they overlap the
detector or the network running in the main thread. The queue is bounded: memory stays
flat, and a slow consumer simply pauses the producer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

from .threads import NamedThread

T = TypeVar("T")
_END = object()


def prefetch(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield ``source``'s items, produced on a background thread ``depth`` items ahead.

    An exception in ``source`` is raised in the consumer. Closing the returned generator
    (or leaving a ``for`` loop over it early and dropping it) stops the thread and closes
    ``source``.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as exc:  # handed over to the consumer
            failure.append(exc)
        finally:
            close = getattr(source, "close", None)
            if close:
                close()
            put(_END)

    thread = NamedThread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                break
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()
        thread.join(timeout=5)
