"""Which pairs of folders grouping compares: the candidate graph (numpy only).

Both functions compute the similarity matrix a block of rows at a time, and only on and above
its diagonal (it is symmetric), so memory stays near ``block_bytes`` however many folders there are.

* ``candidate_pairs``: every pair at or above a threshold. Their number grows with the square of
  the number of folders when the threshold is low.
* ``nearest_neighbour_pairs``: each folder's ``max_neighbours`` most similar other folders at or
  above the threshold, so at most n * k pairs however low the threshold.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# The similarity matrix is computed this many bytes at a time at most.
BLOCK_BYTES = 256 * 1024 * 1024

# How many of its most similar folders each folder is compared with. A person rarely has more than a
# handful of folders, so the true partners come first and the rest are look-alikes. Measured on
# benchmarks.speed.realistic_embeddings at 0.80: with 2,000 folders, 16 already give the unbounded
# grouping; with 10,000 (a folder has ~90 others above 0.80), 16 agree with it on 87-89 % of the
# folder pairs grouped together, 32 on 99.9 % and 64 on all, in 2.9, 3.4 and 4.1 s on 2 cores.
MAX_NEIGHBOURS = 32

# Bytes per entry of a block while it is reduced: the similarities, then either the partitioned copy
# of the rows with more than max_neighbours candidates and three masks, or their transposed copy.
_BLOCK_ENTRY_BYTES = 11


class NeighbourGraph(NamedTuple):
    """Candidate pairs ``first[p] < second[p]`` with their similarity, sorted by (first, second)."""

    first: np.ndarray
    second: np.ndarray
    similarity: np.ndarray
    complete: bool  # no folder had more than max_neighbours others at or above the threshold


def _block_rows(n: int, entry_bytes: int, block_bytes: int) -> int:
    # Blocks of an eighth of the rows keep memory far below the full matrix even for small sets, and
    # since each block only computes the columns from its own first row on, the work approaches half
    # the matrix (blocks of all rows would compute all of it).
    return max(1, min(-(-n // 8), block_bytes // max(1, entry_bytes * n)))


def candidate_pairs(
    embeddings: np.ndarray, threshold: float, block_bytes: int = BLOCK_BYTES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, similarity)`` for every pair i < j with similarity >= threshold.

    The matrix is computed a block of rows at a time, so memory stays near ``block_bytes`` plus the
    pairs found, however many folders there are.
    """
    e = np.ascontiguousarray(embeddings, dtype=np.float32)
    n = len(e)
    rows = _block_rows(n, 5, block_bytes)  # a similarity (4 bytes) and a mask (1 byte) per entry
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


def nearest_neighbour_pairs(
    embeddings: np.ndarray, threshold: float, max_neighbours: int = MAX_NEIGHBOURS, block_bytes: int = BLOCK_BYTES
) -> NeighbourGraph:
    """Pairs i < j with similarity >= threshold where j is among i's ``max_neighbours`` most similar
    folders, or i among j's. Ties are broken by the lower index.

    Unlike ``candidate_pairs``, memory stays near ``block_bytes`` plus n * max_neighbours pairs
    whatever the threshold. When no folder has more than ``max_neighbours`` others at or above the
    threshold, the pairs are exactly those of ``candidate_pairs`` and ``complete`` is true.

    >>> e = np.array([[1.0, 0.0], [0.96, 0.28], [0.8, 0.6], [0.0, 1.0]])
    >>> graph = nearest_neighbour_pairs(e, 0.7, max_neighbours=1)
    >>> list(zip(graph.first.tolist(), graph.second.tolist())), graph.complete
    ([(0, 1), (1, 2)], False)
    """
    if max_neighbours < 1:
        raise ValueError("max_neighbours must be at least 1")
    e = np.ascontiguousarray(embeddings, dtype=np.float32)
    n = len(e)
    k = max(1, min(max_neighbours, n - 1))  # no folder has more than n - 1 others
    best_s = np.full((n, k), -np.inf, np.float32)  # each folder's best candidates so far
    best_j = np.full((n, k), -1, np.int64)
    above = np.zeros(n, np.int64)  # how many others each folder has at or above the threshold
    rows = _block_rows(n, _BLOCK_ENTRY_BYTES, block_bytes)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        block = _upper_block(e, start, stop)
        found = block >= threshold  # compared as candidate_pairs does, so both find the same pairs
        row_counts, col_counts = np.count_nonzero(found, axis=1), np.count_nonzero(found, axis=0)
        above[start:stop] += row_counts
        above[start:] += col_counts
        # the block's rows see the columns after them; each column sees the rows before it (symmetry)
        r, c, s = _best_entries(block, found, row_counts, k)
        _keep_best(best_s, best_j, start + r, start + c, s, k)
        if (col_counts > k).any():  # columns need their own cut-off: taken on the transposed block
            cols = np.flatnonzero(col_counts)
            del found
            block = np.ascontiguousarray(block.T[cols])  # rebound, so the rows' block is freed
            r, c, s = _best_entries(block, block >= threshold, col_counts[cols], k)
            _keep_best(best_s, best_j, start + cols[r], start + c, s, k)
        else:  # every entry counts for its column: those the rows kept, unless some rows were cut
            if (row_counts > k).any():
                r, c = np.nonzero(found)
                s = block[r, c]
            by_column = np.argsort(c, kind="stable")
            _keep_best(best_s, best_j, start + c[by_column], start + r[by_column], s[by_column], k)
            del found
        del block  # before the next one is computed
    i = np.repeat(np.arange(n, dtype=np.int64), k)
    j, s = best_j.ravel(), best_s.ravel()
    kept = j >= 0
    i, j, s = i[kept], j[kept], s[kept]
    # both ends may have kept a pair; (i, j) and (j, i) come from the same entry, hence the same value
    key, first = np.unique(np.minimum(i, j) * n + np.maximum(i, j), return_index=True)
    return NeighbourGraph(key // n, key % n, s[first], bool((above <= k).all()))


def _upper_block(e: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows start..stop of the similarity matrix from column start on, -inf on and below the diagonal."""
    block = e[start:stop] @ e[start:].T
    block[:, : stop - start][np.tri(stop - start, dtype=bool)] = -np.inf
    return block


def _best_entries(
    block: np.ndarray, found: np.ndarray, counts: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(row, column, value)`` of the k largest entries of each row of ``block`` among those
    ``found`` (at or above the threshold; ``counts`` per row), by row; the first columns among equals."""
    cutoff = np.full(len(block), np.finfo(np.float32).min)  # nothing more for a row with k or fewer
    dense = np.flatnonzero(counts > k)
    if dense.size:  # only rows with more than k candidates need the k-th largest as a cut-off
        top = block[dense]  # not thresholded: selection is slow on many equal values
        top.partition(top.shape[1] - k, axis=1)
        cutoff[dense] = top[:, top.shape[1] - k]
        del top
        found = found & (block >= cutoff[:, None])  # a new mask: the caller's is still needed
    r, c = np.nonzero(found)
    del found
    s = block[r, c]
    # entries equal to the cut-off can make more than k: keep those above it, then the first equal ones
    above = s > cutoff[r]
    tied_before = np.cumsum(~above) - ~above
    tied_before -= tied_before[np.searchsorted(r, r)]
    keep = above | (tied_before < k - np.bincount(r[above], minlength=len(block))[r])
    return r[keep], c[keep], s[keep]


def _keep_best(
    best_s: np.ndarray, best_j: np.ndarray, folders: np.ndarray, partners: np.ndarray, s: np.ndarray, k: int
) -> None:
    """Merge candidates (at most k a folder, grouped by folder) into the folders' best k so far."""
    if not len(folders):
        return
    touched = np.unique(folders)
    row = np.searchsorted(touched, folders)
    position = np.arange(len(folders)) - np.searchsorted(folders, folders)  # within its folder's, < k
    new_s = np.full((len(touched), k), -np.inf, np.float32)
    new_j = np.full((len(touched), k), -1, np.int64)
    new_s[row, position], new_j[row, position] = s, partners
    both_s = np.concatenate([best_s[touched], new_s], axis=1)
    both_j = np.concatenate([best_j[touched], new_j], axis=1)
    # best first, lower index first among equals: a stable sort on the index, then on the similarity
    order = np.argsort(both_j, axis=1, kind="stable")
    order = np.take_along_axis(order, np.argsort(-np.take_along_axis(both_s, order, 1), axis=1, kind="stable"), 1)
    order = order[:, :k]
    best_s[touched] = np.take_along_axis(both_s, order, 1)
    best_j[touched] = np.take_along_axis(both_j, order, 1)
