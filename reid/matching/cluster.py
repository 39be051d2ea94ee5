"""``deeplearningg_reID.py --ray [ADDRESS]``: crops embedded as Ray tasks, for large crop sets.

``RayExtractor`` has the extractor's ``embed_files``: this process reads the crops, sends them in
chunks to Ray tasks (``embed_chunk``) that run the same network with the same settings on whichever
node they land, and puts the embeddings back in order; the cache, the comparison and the merge stay
here. A task takes one CPU and runs the network on one thread, so a cluster embeds as many chunks
at once as it has cores. The network is loaded once per Ray worker process.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.cluster import connect, disconnect
from ..core.config import MatchingConfig
from ..core.errors import ReidError, first_line

CHUNK = 256  # crops per task: a few MB of JPEG, seconds of work


class RayExtractor:
    """Embeds files on a Ray cluster (see the module docstring)."""

    def __init__(self, config: MatchingConfig, address: str) -> None:
        import ray

        self.ray = ray
        self.connected = connect(address)
        self.config = dataclasses.replace(config, threads=1)
        self.task = ray.remote(max_retries=1)(embed_chunk)  # a chunk done twice gives the same result

    def embed_files(
        self, paths: Sequence[Path], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, dict[Path, str]]:
        """As ``batches.BatchExtractor.embed_files``: the readable files' embeddings in order, and an
        error message per unreadable file."""
        ray, errors = self.ray, {}
        chunks = [list(paths[start : start + CHUNK]) for start in range(0, len(paths), CHUNK)]
        pending = {}
        for number, chunk in enumerate(chunks):
            files = []
            for path in chunk:
                try:
                    files.append((path.name, path.read_bytes()))
                except OSError as exc:
                    errors[path] = f"cannot read {path}: {exc.strerror or exc}"
                    files.append((path.name, b""))
            pending[self.task.remote(self.config, files)] = number
        results: dict[int, tuple[np.ndarray, dict[int, str]]] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            number = pending.pop(ready[0])
            try:
                results[number] = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                raise ReidError(f"embedding on Ray failed: {first_line(exc)}") from None
            if on_batch:
                on_batch(len(chunks[number]))
        rows = []
        for number, chunk in enumerate(chunks):
            vectors, failed = results[number]
            for index, path in enumerate(chunk):
                if index in failed:
                    errors.setdefault(path, failed[index].replace(f"#{index}#", str(path)))
            rows.append(vectors)
        dimension = next((r.shape[1] for r in rows if r.ndim == 2 and len(r)), 0)
        embedded = (
            np.concatenate([r for r in rows if len(r)]) if any(len(r) for r in rows) else np.zeros((0, dimension))
        )
        return embedded.astype(np.float32), errors

    def close(self) -> None:
        disconnect(self.connected)


_extractors: dict[str, Any] = {}  # per Ray worker process: the network, loaded once


def embed_chunk(config: MatchingConfig, files: list[tuple[str, bytes]]) -> tuple[np.ndarray, dict[int, str]]:
    """A Ray task: the embeddings of the readable ``files`` (name, bytes) in order, and an error per
    unreadable one by its index (its path written ``#index#``, for the owner to put back)."""
    from .features import load_extractor

    key = repr(config)
    if key not in _extractors:
        _extractors[key] = load_extractor(config)
    extractor = _extractors[key]
    with tempfile.TemporaryDirectory(prefix="reid-ray-crops-") as folder:
        paths = []
        for index, (name, data) in enumerate(files):
            path = Path(folder) / f"{index:05d}_{name}"  # the same suffix: the decoder goes by content anyway
            path.write_bytes(data)
            paths.append(path)
        vectors, errors = extractor.embed_files(paths)
        failed = {
            paths.index(path): message.replace(str(path), f"#{paths.index(path)}#") for path, message in errors.items()
        }
    return vectors, failed
