"""What grouping person folders starts from: pure functions on embeddings and tracks (numpy only).

* ``folder_embedding``: a folder is the L2-normalised mean of its crops' embeddings.
* ``candidate_pairs`` (from ``neighbours.py``): the pairs of folders worth comparing, from the
  similarity matrix computed in row blocks (the full matrix of 50k folders would need 10 GB).
* ``cannot_link_pairs``: folders whose tracks were visible in the same frame of the same
  video in the same tracking run are different people.
* ``group_similarity`` and ``choose_survivor``: how alike a group is, and which folder keeps its name.

The grouping itself, constrained average linkage, is ``average_linkage.group_folders``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# candidate_pairs and BLOCK_BYTES live in neighbours.py; callers may import them from here
from .neighbours import BLOCK_BYTES as BLOCK_BYTES
from .neighbours import candidate_pairs as candidate_pairs


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero).

    >>> normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def folder_embedding(image_embeddings: np.ndarray) -> np.ndarray:
    """The normalised mean of a folder's (normalised) image embeddings."""
    if len(image_embeddings) == 0:
        raise ValueError("a folder embedding needs at least one image")
    mean = image_embeddings.astype(np.float64).mean(axis=0, keepdims=True)
    return normalize_rows(mean)[0].astype(np.float32)


def cosine_similarity_matrix(embeddings: np.ndarray) -> np.ndarray:
    """All pairwise cosine similarities of unit-length rows (float32)."""
    e = np.asarray(embeddings, dtype=np.float32)
    return e @ e.T


@dataclass(frozen=True)
class Appearance:
    """Where one track was visible: its tracking run, its video and its runs of frames; and, when
    known, where it was first and last seen (boxes ``x1, y1, x2, y2``) and the video's frame rate."""

    run_id: str
    video: str
    segments: tuple[tuple[int, int], ...]
    first_box: tuple[float, float, float, float] | None = None
    last_box: tuple[float, float, float, float] | None = None
    fps: float | None = None

    @property
    def first(self) -> int:
        return self.segments[0][0]

    @property
    def last(self) -> int:
        return self.segments[-1][1]


def segments_overlap(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> bool:
    """Whether two sorted lists of inclusive frame ranges share a frame.

    >>> segments_overlap([(0, 5), (10, 12)], [(6, 9)]), segments_overlap([(0, 5)], [(5, 7)])
    (False, True)
    """
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][1] < b[j][0]:
            i += 1
        elif b[j][1] < a[i][0]:
            j += 1
        else:
            return True
    return False


def cannot_link_pairs(appearances: Sequence[Sequence[Appearance]]) -> set[tuple[int, int]]:
    """Pairs (i, j), i < j, of folders with tracks visible in one frame of one video of one run.

    ``appearances[i]`` lists folder i's tracks (empty for folders without metadata, which are
    then unconstrained). A sweep over each video's tracks sorted by first frame compares only
    tracks whose spans overlap, so long videos with many tracks stay fast.
    """
    by_video: dict[tuple[str, str], list[tuple[Appearance, int]]] = {}
    for folder, tracks in enumerate(appearances):
        for track in tracks:
            if track.segments:
                by_video.setdefault((track.run_id, track.video), []).append((track, folder))
    pairs: set[tuple[int, int]] = set()
    for tracks in by_video.values():
        tracks.sort(key=lambda item: item[0].first)
        active: list[tuple[Appearance, int]] = []
        for track, folder in tracks:
            active = [(t, f) for t, f in active if t.last >= track.first]
            for other, other_folder in active:
                if other_folder != folder and segments_overlap(other.segments, track.segments):
                    pairs.add((min(folder, other_folder), max(folder, other_folder)))
            active.append((track, folder))
    return pairs


def group_similarity(embeddings: np.ndarray, group: Sequence[int]) -> tuple[float, float]:
    """Minimum and mean pairwise similarity within a group of two or more folders."""
    sub = np.asarray(embeddings, dtype=np.float32)[list(group)]
    similarities = (sub @ sub.T)[np.triu_indices(len(group), k=1)]
    return float(similarities.min()), float(similarities.mean())


def choose_survivor(group: Sequence[int], crop_counts: Sequence[int], ids: Sequence[float]) -> int:
    """The folder that keeps its name: most crops, then the lowest id (deterministic)."""
    return min(group, key=lambda i: (-crop_counts[i], ids[i]))
