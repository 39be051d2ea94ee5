"""Writes crops (and anything else queued) on a background thread, in submission order.

JPEG encoding and disk writes take a few milliseconds per crop; doing them here keeps the
detector loop busy. The queue is bounded, so a slow disk slows the detector instead of
filling memory. The first failure is kept and reported; later work is skipped.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..core.errors import OutputError
from ..core.files import atomic_write_bytes
from ..core.threads import NamedThread
from ..merging.faults import fault_point

log = logging.getLogger(__name__)


class CropWriter:
    _STOP = object()

    def __init__(self, jpeg_quality: int = 95, queue_size: int = 64) -> None:
        self.jpeg_quality = jpeg_quality
        self.error: str | None = None
        self.crops_written = 0  # for the fault points of the tests
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread = NamedThread(target=self._work, name="crop-writer", daemon=True)
        self._thread.start()

    def save_jpeg(self, path: Path, image: np.ndarray) -> None:
        self._submit(self._write_jpeg, path, image)

    def save_encoded(self, path: Path, jpeg: bytes) -> None:
        """A crop encoded already (by a worker)."""
        self._submit(self._write_crop, path, jpeg)

    def delete(self, path: Path) -> None:
        self._submit(self._delete, path)

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` after everything queued before it."""
        self._submit(function, *args)

    def check(self) -> None:
        """Raise ``OutputError`` if a write has failed."""
        if self.error is not None:
            raise OutputError(self.error)

    def close(self) -> None:
        """Finish all queued work, stop the thread, and report a failure if there was one."""
        if self._thread.is_alive():
            self._queue.put(self._STOP)
            self._thread.join()
        self.check()

    def _submit(self, function: Callable[..., Any], *args: Any) -> None:
        self.check()
        self._queue.put((function, args))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._STOP:
                return
            if self.error is not None:
                continue  # after a failure, drain without writing so producers never block
            function, args = item
            try:
                function(*args)
            except OSError as exc:
                name = getattr(exc, "filename", None) or (args[0] if args else "")
                self.error = f"cannot write {name}: {exc.strerror or exc}"
            except Exception as exc:  # keep the thread alive so close() can report it
                log.debug("writer task failed", exc_info=True)
                self.error = f"writing failed: {exc}"

    def _write_jpeg(self, path: Path, image: np.ndarray) -> None:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise OSError(f"JPEG encoding failed for {path}")
        self._write_crop(path, encoded.tobytes())

    def _write_crop(self, path: Path, jpeg: bytes) -> None:
        # Atomic so a reader (the monitor, the re-ID stage) never sees a half-written JPEG;
        # not fsynced: crops can be regenerated from the video, and fsync per crop is slow.
        atomic_write_bytes(path, jpeg, durable=False)
        self.crops_written += 1
        fault_point(f"crop-written:{self.crops_written}")  # tests kill the run here

    def _delete(self, path: Path) -> None:
        Path(path).unlink(missing_ok=True)
