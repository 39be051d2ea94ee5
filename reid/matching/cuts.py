"""Where to cut a track's crops, in time order, into the people it shows (pure functions on the crops'
unit vectors; ``splitting.py`` turns the cuts into folders and says why).

Two kinds of cut. ``cut_at_doubts``: the tracker's record doubts some steps between consecutive crops
(``switches.py``); the crops between doubted steps are *pieces* the tracker followed without a doubt,
the pieces are grouped by their looks (average linkage: two groups join while their crops are, on
average, at least ``level`` alike), and a doubted step is cut where the pieces either side fall in
different groups. ``cut_by_looks``: a tracker also slides from one person to another without losing
either, which leaves no trace but the looks; a run is then cut where its crops form groups of looks
one after the other, each at least ``min_part`` crops.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering

# The share of the pairs of crops across a cut by looks alone that may be as alike as the level. With
# none allowed (any one pair keeps the crops together) Terrace had 2 fewer mixed folders split and no
# fewer pure ones; TUD and Venice were the same.
ALIKE_PAIRS = 0.10


def cut_at_doubts(vectors: np.ndarray, doubts: Sequence[bool], level: float, min_part: int) -> list[list[int]]:
    """The crops (unit ``vectors`` in time order) cut into runs at the doubted steps (``doubts[k]``:
    between crops k and k + 1) whose two sides look unlike (see the module docstring), each run at
    least ``min_part`` crops (a shorter one joins its more alike neighbour).

    >>> a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    >>> cut_at_doubts(np.stack([a, a, b, b, a]), [False, True, False, True], 0.5, 1)
    [[0, 1], [2, 3], [4]]
    >>> cut_at_doubts(np.stack([a, b, b, b, a]), [False, False, False, True], 0.5, 1)  # no doubt at 0-1
    [[0, 1, 2, 3], [4]]
    >>> cut_at_doubts(np.stack([a, a, b, b, a]), [False, True, False, True], 0.5, 2)
    [[0, 1], [2, 3, 4]]
    >>> cut_at_doubts(np.stack([a, a, a]), [True, True], 0.5, 1)  # doubted, but one person's looks
    [[0, 1, 2]]
    """
    n = len(vectors)
    pieces = np.concatenate([[0], np.cumsum(doubts)]).astype(int)
    if n < 2 or pieces[-1] == 0:
        return [list(range(n))]
    distance = np.clip(1.0 - vectors @ vectors.T, 1e-9, 2.0)
    distance[pieces[:, None] == pieces[None, :]] = 0.0  # the tracker followed these without a doubt
    np.fill_diagonal(distance, 0.0)
    linkage = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=max(1e-6, 1.0 - level)
    )
    labels = linkage.fit(distance).labels_
    runs = [list(run) for _, run in itertools.groupby(range(n), key=lambda k: labels[k])]
    return _joined(vectors, runs, level, min_part)


def cut_by_looks(vectors: np.ndarray, run: list[int], level: float, min_part: int) -> list[list[int]]:
    """``run`` (indices of ``vectors``) cut where its crops form groups of looks one after the other,
    each ``min_part`` crops or more, and at most ``ALIKE_PAIRS`` of the pairs of crops across the cut
    are as alike as ``level``: without a doubt of the tracker's, one person's views (front, back),
    some of which match, must not be cut.

    >>> a, b, c = np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.6, 0.8])
    >>> vectors = np.stack([a, a, a, b, b, b, a, c])
    >>> cut_by_looks(vectors, [0, 1, 2, 3, 4, 5], 0.5, 3)
    [[0, 1, 2], [3, 4, 5]]
    >>> cut_by_looks(vectors, [0, 1, 2, 3, 4, 5, 6], 0.5, 3)  # crop 6 after the cut looks like those before
    [[0, 1, 2, 3, 4, 5, 6]]
    >>> cut_by_looks(vectors, [1, 2, 3, 4, 5], 0.5, 3)  # 2 crops of one look: too few to tell
    [[1, 2, 3, 4, 5]]
    >>> cut_by_looks(vectors, [0, 1, 7, 3, 4, 5], 0.5, 3)  # crop 7 is like both: one person turning
    [[0, 1, 7, 3, 4, 5]]
    """
    if len(run) < 2 * min_part:
        return [run]
    pieces = [
        [run[k] for k in piece] for piece in cut_at_doubts(vectors[run], [True] * (len(run) - 1), level, min_part)
    ]
    kept = [pieces[0]]
    for piece in pieces[1:]:
        if np.mean(vectors[kept[-1]] @ vectors[piece].T >= level) > ALIKE_PAIRS:
            kept[-1] = kept[-1] + piece
        else:
            kept.append(piece)
    return kept


def mean_similarity(vectors: np.ndarray, a: Sequence[int], b: Sequence[int]) -> float:
    """The mean similarity of the crops ``a`` with the crops ``b`` (rows of unit ``vectors``): the
    same scale as two folders' embeddings (their crops' means).

    >>> mean_similarity(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), [0, 1], [2])
    0.5
    """
    return float(vectors[list(a)].mean(axis=0) @ vectors[list(b)].mean(axis=0))


def _joined(vectors: np.ndarray, runs: list[list[int]], level: float, min_part: int) -> list[list[int]]:
    """Neighbouring ``runs`` joined, the most alike first, while two look alike (their crops' mean
    similarity reaches ``level``: grouping may have set them apart only for a third run's sake), then
    while one is shorter than ``min_part`` crops (with its more alike neighbour)."""
    while len(runs) > 1:
        similarities = [mean_similarity(vectors, a, b) for a, b in itertools.pairwise(runs)]
        k = int(np.argmax(similarities))
        if similarities[k] < level:
            small = min(range(len(runs)), key=lambda r: len(runs[r]))
            if len(runs[small]) >= min_part:
                break
            sides = [r for r in (small - 1, small) if 0 <= r < len(similarities)]
            k = max(sides, key=lambda r: similarities[r])
        runs[k : k + 2] = [runs[k] + runs[k + 1]]
    return runs
