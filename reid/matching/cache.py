"""Embeddings already computed, so a second run only embeds new or changed crops.

An entry is keyed by a digest of the file's bytes, so a crop that a merge moved or renamed,
or a persons folder copied elsewhere, is still found. Digests are remembered by the file's
identity (path inside persons/, size, modification time in nanoseconds), so an unchanged
file is not even read. A cache file belongs to one model (backbone, weights, input size).
Cache files live in ``persons/.reid_cache/`` and are rewritten atomically; a damaged one is
ignored.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import numpy as np

from ..core.files import atomic_write_bytes

log = logging.getLogger(__name__)

CACHE_DIRNAME = ".reid_cache"


def _stat_key(path: Path, persons_dir: Path) -> str | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{path.relative_to(persons_dir).as_posix()}|{stat.st_size}|{stat.st_mtime_ns}"


def content_digest(path: Path) -> str | None:
    """A digest of the file's bytes, or None if it cannot be read."""
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return None


class EmbeddingCache:
    """``model_key`` None disables the cache (nothing is read or written)."""

    def __init__(self, persons_dir: Path, model_key: str | None) -> None:
        self.persons_dir = Path(persons_dir)
        self.model_key = model_key
        digest = hashlib.sha256((model_key or "").encode()).hexdigest()[:16]
        self.path = self.persons_dir / CACHE_DIRNAME / f"{digest}.npz"
        self._vectors: dict[str, np.ndarray] = {}  # content digest -> embedding
        self._digests: dict[str, str] = {}  # file identity (path|size|mtime) -> content digest
        self._used: set[str] = set()
        self._seen: dict[str, str] = {}
        self._added = False
        self.hits = self.misses = 0
        if model_key is not None:
            self._load()

    def _load(self) -> None:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if str(data["model"]) != self.model_key or "files" not in data.files:
                    return  # another model's, or an older format: recomputed
                keys, vectors = data["keys"], data["vectors"]
                self._vectors = {str(k): vectors[i] for i, k in enumerate(keys)}
                self._digests = dict(zip(map(str, data["files"]), map(str, data["digests"]), strict=True))
        except FileNotFoundError:
            return
        except Exception as exc:  # a damaged cache only costs recomputation
            log.warning("ignoring unreadable embedding cache %s: %s", self.path, exc)

    def key_for(self, path: Path) -> str | None:
        """The cache key of an image (its content digest), or None if it cannot be read."""
        identity = _stat_key(path, self.persons_dir)
        if identity is None:
            return None
        digest = self._digests.get(identity) or content_digest(path)
        if digest is not None:
            self._seen[identity] = digest
        return digest

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
        self._added = True

    def save(self) -> None:
        """Write the entries used in this run (entries of deleted or changed files are dropped)."""
        keys = sorted(k for k in self._used if k in self._vectors)
        if not keys or self.model_key is None:
            return
        files = sorted(f for f, digest in self._seen.items() if digest in self._vectors)
        if not self._added and set(keys) == set(self._vectors) and files == sorted(self._digests):
            return  # exactly what is on disk already
        buffer = io.BytesIO()
        np.savez(
            buffer,
            model=np.array(self.model_key),
            keys=np.array(keys),
            vectors=np.stack([self._vectors[k] for k in keys]),
            files=np.array(files, dtype=str),
            digests=np.array([self._seen[f] for f in files], dtype=str),
        )
        try:
            self.path.parent.mkdir(exist_ok=True)
            atomic_write_bytes(self.path, buffer.getvalue(), durable=False)
        except OSError as exc:
            log.warning("embedding cache not saved (%s); the next run recomputes", exc.strerror or exc)
