"""Embeddings already computed, so a second run only embeds new or changed crops.

An entry is keyed by the file's identity (path inside persons/, size, modification time in
nanoseconds); a cache file belongs to one model (backbone, weights, input size). Cache files
live in ``persons/.reid_cache/`` and are rewritten atomically; a damaged one is ignored.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import numpy as np

from .fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

CACHE_DIRNAME = ".reid_cache"


def file_key(path: Path, persons_dir: Path) -> str | None:
    """The identity of an image file, or None if it cannot be read."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{path.relative_to(persons_dir).as_posix()}|{stat.st_size}|{stat.st_mtime_ns}"


class EmbeddingCache:
    """``model_key`` None disables the cache (nothing is read or written)."""

    def __init__(self, persons_dir: Path, model_key: str | None):
        self.persons_dir = Path(persons_dir)
        self.model_key = model_key
        digest = hashlib.sha256((model_key or "").encode()).hexdigest()[:16]
        self.path = self.persons_dir / CACHE_DIRNAME / f"{digest}.npz"
        self._vectors: dict[str, np.ndarray] = {}
        self._used: set[str] = set()
        self.hits = self.misses = 0
        if model_key is not None:
            self._load()

    def _load(self) -> None:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if str(data["model"]) != self.model_key:
                    return
                keys, vectors = data["keys"], data["vectors"]
                self._vectors = {str(k): vectors[i] for i, k in enumerate(keys)}
        except FileNotFoundError:
            return
        except Exception as exc:  # a damaged cache only costs recomputation
            log.warning("ignoring unreadable embedding cache %s: %s", self.path, exc)

    def get(self, key: str) -> np.ndarray | None:
        vector = self._vectors.get(key)
        self._used.add(key)
        if vector is None:
            self.misses += 1
        else:
            self.hits += 1
        return vector

    def put(self, key: str, vector: np.ndarray) -> None:
        self._vectors[key] = np.asarray(vector, dtype=np.float32)
        self._used.add(key)

    def save(self) -> None:
        """Write the entries used in this run (entries of deleted or changed files are dropped)."""
        keys = sorted(k for k in self._used if k in self._vectors)
        if not keys or self.model_key is None:
            return
        buffer = io.BytesIO()
        np.savez(buffer, model=np.array(self.model_key), keys=np.array(keys),
                 vectors=np.stack([self._vectors[k] for k in keys]))
        try:
            self.path.parent.mkdir(exist_ok=True)
            atomic_write_bytes(self.path, buffer.getvalue(), durable=False)
        except OSError as exc:
            log.warning("embedding cache not saved (%s); the next run recomputes", exc.strerror or exc)
