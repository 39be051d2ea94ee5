"""Folders -> embeddings: each crop's from the cache or the network, each folder's from its crops.

The feature extractor is passed in as a loader (``features.FeatureExtractor`` or anything with
``embed_files``), so this module does not import TensorFlow, and the network is only loaded
(which costs seconds) when some crop is not in the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .folders import Folder


class Extractor(Protocol):
    def embed_files(
        self, paths: Sequence[Path], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, dict[Path, str]]: ...


class Cache(Protocol):
    def key_for(self, path: Path) -> str | None: ...
    def get(self, key: str) -> np.ndarray | None: ...
    def put(self, key: str, vector: np.ndarray) -> None: ...
    def save(self) -> None: ...


class NoCache:
    """A cache that keeps nothing (evaluation on labelled crops, random weights)."""

    hits = misses = 0

    def key_for(self, path: Path) -> str | None:
        return None

    def get(self, key: str) -> np.ndarray | None:
        return None

    def put(self, key: str, vector: np.ndarray) -> None:
        pass

    def save(self) -> None:
        pass


def embed_folders(
    folders: Sequence[Folder],
    load_extractor: Callable[[], Extractor],
    cache: Cache,
    progress: Callable[[int, str], None] | None = None,
) -> dict[Path, str]:
    """Set each folder's crop vectors and their mean (see ``Folder``); returns the unreadable images.

    Cached crops are not decoded (and unchanged ones not even read); the rest are embedded in batches.
    """
    vectors: dict[Path, np.ndarray] = {}
    missing: list[tuple[Path, str | None]] = []
    for image in (image for folder in folders for image in folder.images):
        key = cache.key_for(image)
        cached = cache.get(key) if key else None
        if cached is not None:
            vectors[image] = cached
        else:
            missing.append((image, key))
    errors: dict[Path, str] = {}
    if missing:
        errors = _embed_missing(missing, load_extractor(), vectors, cache, progress)
    elif progress:
        progress(len(vectors), folders[-1].name if folders else "")
    cache.save()
    for folder in folders:
        rows = [vectors[i] for i in folder.images if i in vectors]
        set_vectors(folder, np.stack(rows) if rows else None)
    return errors


def set_vectors(folder: Folder, vectors: np.ndarray | None) -> None:
    """Give ``folder`` its crop vectors (unit rows) and their mean; None when it has no readable crop."""
    folder.vectors = None if vectors is None else np.asarray(vectors, dtype=np.float32)
    folder.embedding = None if vectors is None else folder.vectors.astype(np.float64).mean(axis=0).astype(np.float32)


def _embed_missing(
    missing: list[tuple[Path, str | None]],
    extractor: Extractor,
    vectors: dict[Path, np.ndarray],
    cache: Cache,
    progress: Callable[[int, str], None] | None,
) -> dict[Path, str]:
    cached = len(vectors)
    done = 0

    def on_batch(count: int) -> None:
        nonlocal done
        done += count
        if progress:
            progress(cached + done, missing[min(done, len(missing)) - 1][0].parent.name)

    embedded, errors = extractor.embed_files([image for image, _ in missing], on_batch)
    readable = [(image, key) for image, key in missing if image not in errors]
    for (image, key), vector in zip(readable, embedded, strict=True):
        vectors[image] = vector
        if key:
            cache.put(key, vector)
    return errors
