"""Which person folders show the same person: pure functions on embeddings (numpy only).

* ``folder_embedding``: a folder is the L2-normalised mean of its crops' embeddings.
* ``candidate_pairs``: every pair of folders with cosine similarity >= threshold, from the
  similarity matrix computed in row blocks (the full matrix of 50k folders would need 10 GB).
* ``cannot_link_pairs``: folders whose tracks were visible in the same frame of the same
  video in the same tracking run are different people.
* ``group_folders``: average-linkage agglomeration that stops at the threshold and never
  joins two clusters containing a cannot-link pair, so neither a chain of look-alikes nor
  a co-occurrence can merge two different people.

With unit vectors, the average cosine similarity between two clusters equals the dot
product of their vector sums divided by the product of their sizes, so each merge costs
one dot product per neighbouring cluster instead of a pass over all pairs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# The similarity matrix is computed this many bytes at a time at most.
BLOCK_BYTES = 256 * 1024 * 1024


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


def candidate_pairs(
    embeddings: np.ndarray, threshold: float, block_bytes: int = BLOCK_BYTES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, similarity)`` for every pair i < j with similarity >= threshold.

    The matrix is computed a block of rows at a time, so memory stays near
    ``block_bytes`` however many folders there are.
    """
    e = np.ascontiguousarray(embeddings, dtype=np.float32)
    n = len(e)
    # A block of rows costs 4 bytes (similarity) + 1 byte (mask) per column. Blocks of an
    # eighth of the rows keep memory far below the full matrix even for small sets, and since
    # each block only computes the columns from its own first row on, the work approaches
    # half the matrix (blocks of all rows would compute all of it).
    rows = max(1, min(-(-n // 8), block_bytes // max(1, 5 * n)))
    found_i, found_j, found_s = [], [], []
    for start in range(0, n, rows):
        block = e[start : start + rows] @ e[start:].T  # only columns j >= start can have j > i
        local_i, local_j = np.nonzero(block >= threshold)
        keep = start + local_i < start + local_j  # strictly above the diagonal
        local_i, local_j = local_i[keep], local_j[keep]
        found_i.append(start + local_i)
        found_j.append(start + local_j)
        found_s.append(block[local_i, local_j])
    if not found_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_s)


@dataclass(frozen=True)
class Appearance:
    """Where one track was visible: its tracking run, its video and its runs of frames."""

    run_id: str
    video: str
    segments: tuple[tuple[int, int], ...]

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


def group_folders(
    embeddings: np.ndarray, threshold: float, cannot_link: Iterable[tuple[int, int]] = ()
) -> list[list[int]]:
    """Groups (of two or more folder indices) to merge, by constrained average linkage.

    Repeatedly joins the two clusters with the highest average pairwise similarity while it
    is >= ``threshold``, skipping pairs whose union would contain a cannot-link pair. Groups
    are returned sorted, largest first, then by lowest index; members sorted.
    """
    e = np.ascontiguousarray(embeddings, dtype=np.float32)  # no copy for float32 input
    n = len(e)
    sums: dict[int, np.ndarray] = {i: e[i] for i in range(n)}  # views; merged clusters get float64 sums
    sizes: dict[int, int] = {i: 1 for i in range(n)}
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    neighbours: dict[int, set[int]] = {i: set() for i in range(n)}  # clusters at >= threshold
    cannot: dict[int, set[int]] = {i: set() for i in range(n)}
    for i, j in cannot_link:
        cannot[i].add(j)
        cannot[j].add(i)
    heap: list[tuple[float, int, int]] = []
    for i, j, s in zip(*candidate_pairs(e, threshold), strict=True):
        i, j = int(i), int(j)
        neighbours[i].add(j)
        neighbours[j].add(i)
        heap.append((-float(s), i, j))
    heapq.heapify(heap)
    next_id = n
    while heap:
        _, a, b = heapq.heappop(heap)
        if a not in sums or b not in sums or b in cannot[a]:
            continue  # a cluster already merged away (stale entry), or a forbidden union
        c, next_id = next_id, next_id + 1
        sums[c] = sums.pop(a).astype(np.float64) + sums.pop(b)
        sizes[c] = sizes.pop(a) + sizes.pop(b)
        members[c] = members.pop(a) + members.pop(b)
        cannot[c] = cannot.pop(a) | cannot.pop(b)
        for d in cannot[c]:
            cannot[d] -= {a, b}
            cannot[d].add(c)
        # Average linkage: avg(c, d) is a weighted mean of avg(a, d) and avg(b, d), so only
        # former neighbours of a or b can reach the threshold with c.
        neighbours[c] = set()
        for d in (neighbours.pop(a) | neighbours.pop(b)) - {a, b}:
            neighbours[d] -= {a, b}
            average = float(sums[c] @ sums[d]) / (sizes[c] * sizes[d])
            if average >= threshold:
                neighbours[c].add(d)
                neighbours[d].add(c)
                if d not in cannot[c]:
                    heapq.heappush(heap, (-average, min(c, d), max(c, d)))
    groups = [sorted(m) for m in members.values() if len(m) > 1]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def group_similarity(embeddings: np.ndarray, group: Sequence[int]) -> tuple[float, float]:
    """Minimum and mean pairwise similarity within a group of two or more folders."""
    sub = np.asarray(embeddings, dtype=np.float32)[list(group)]
    similarities = (sub @ sub.T)[np.triu_indices(len(group), k=1)]
    return float(similarities.min()), float(similarities.mean())


def choose_survivor(group: Sequence[int], crop_counts: Sequence[int], ids: Sequence[float]) -> int:
    """The folder that keeps its name: most crops, then the lowest id (deterministic)."""
    return min(group, key=lambda i: (-crop_counts[i], ids[i]))
