"""Crops embedded in batches, whichever backend runs the network: the part both backends share.

``BatchExtractor.embed_files`` decodes and resizes crops on a background thread while the network
computes the previous batch; a backend supplies only its collation and its network call, and
returns L2-normalised rows, so a dot product is a cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.prefetch import prefetch
from .images import decode_image


def load_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A BGR uint8 image resized to ``size`` (height, width); ``InputError`` if unreadable."""
    import cv2

    image = decode_image(path)
    height, width = size
    # Person crops are tall: their height says whether they shrink (INTER_AREA) or grow (INTER_LINEAR).
    shrinking = image.shape[0] > height
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def read_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """An RGB uint8 image resized to ``size`` (height, width); ``InputError`` if unreadable."""
    return load_image(path, size)[:, :, ::-1]


class BatchExtractor:
    """Embeds files in batches; a backend supplies ``_collate`` (images -> network input, run on the
    reading thread) and ``_infer`` (network input -> L2-normalised embeddings)."""

    dimension: int
    batch_size: int
    input_size: tuple[int, int]

    def _collate(self, images: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def embed_files(
        self, paths: Sequence[Path], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, dict[Path, str]]:
        """Embeddings of the readable files, in order, and an error message per unreadable file.

        Returns ``(embeddings, errors)``; ``embeddings`` (float32) has one row per readable path, in the
        order of ``paths`` with the unreadable ones left out. ``on_batch(n)`` is called after each
        batch with the number of files it covered.
        """
        rows: list[np.ndarray] = []
        errors: dict[Path, str] = {}
        for batch, covered in prefetch(self._batches(paths, errors_out=errors)):
            if batch is not None:
                rows.append(self._infer(batch))
            if on_batch:
                on_batch(covered)
        if not rows:
            return np.zeros((0, self.dimension), np.float32), errors
        return np.concatenate(rows).astype(np.float32, copy=False), errors

    def _batches(self, paths: Sequence[Path], errors_out: dict[Path, str]) -> Iterator[tuple[np.ndarray | None, int]]:
        images: list[np.ndarray] = []
        covered = 0
        for path in paths:
            covered += 1
            try:
                images.append(load_image(path, self.input_size))
            except (InputError, OSError) as exc:
                errors_out[path] = str(exc) if isinstance(exc, InputError) else f"{path}: {exc.strerror or exc}"
            if len(images) == self.batch_size:
                yield self._collate(images), covered
                images, covered = [], 0
        if images or covered:
            yield (self._collate(images) if images else None), covered


def l2_normalise(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, np.finfo(np.float32).tiny)
