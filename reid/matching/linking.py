"""Grouping with motion evidence: continuations are linked first, then everything is grouped.

A continuation (one track starting shortly after and close to where another ended, see
``motion.py``) is joined when the two folders also look alike, with ``LINK_BONUS`` less
appearance similarity than unrelated folders need: where and when add evidence that looks
alone cannot. Linked folders then take part in the average-linkage grouping as one unit (their
crops pooled), and a link never joins folders that cannot be one person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .average_linkage import group_folders

# How much less appearance similarity a continuation needs. Measured at the footage's threshold on
# TUD, Venice and Terrace (BENCHMARKS.md): 0.1 joined more than 0.05 (Terrace 68 -> 63 folders,
# Venice 39 -> 38) with no merge of two people; 0.2 merged two people on Venice and on Terrace. Again
# at the footage's threshold of pairs compared on their shared frames: 0.15 took Terrace from 72 to 69
# folders and Venice from 39 to 38, but merged two people twice on Terrace.
LINK_BONUS = 0.1


def link_components(
    embeddings: np.ndarray,
    pairs: Iterable[tuple[int, int]],
    min_similarity: float,
    cannot_link: Iterable[tuple[int, int]] = (),
    forced: Iterable[tuple[int, int]] = (),
    bars: Mapping[tuple[int, int], float] | None = None,
) -> list[list[int]]:
    """Components (sorted lists of indices) joined by the ``pairs`` whose similarity is at least
    ``min_similarity`` (or, for the pairs in ``bars``, their own bar), most similar first, never joining
    a cannot-link pair; singletons included. The ``forced`` pairs are joined first, whatever their
    similarity (a crop handed to its person).

    >>> e = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> link_components(e, [(0, 1), (1, 2)], 0.5)
    [[0, 1], [2]]
    >>> link_components(e, [(0, 1)], 0.5, bars={(1, 2): 0.0})
    [[0, 1, 2]]
    """
    n = len(embeddings)
    component = list(range(n))
    members = {i: {i} for i in range(n)}
    cannot = {i: set() for i in range(n)}
    for i, j in cannot_link:
        cannot[i].add(j)
        cannot[j].add(i)
    bar = {pair: min_similarity for pair in pairs}
    for pair, own in (bars or {}).items():
        bar[pair] = min(own, bar.get(pair, own))
    scored = sorted(((float(embeddings[i] @ embeddings[j]), i, j) for i, j in bar), reverse=True)
    for similarity, i, j in [(np.inf, i, j) for i, j in forced] + scored:
        a, b = component[i], component[j]
        if similarity < bar.get((i, j), -np.inf) or a == b or any(cannot[m] & members[b] for m in members[a]):
            continue
        for m in members[b]:
            component[m] = a
        members[a] |= members.pop(b)
    return sorted(sorted(group) for group in members.values())


def group_with_links(
    embeddings: np.ndarray,
    weights: Sequence[float],
    threshold: float,
    cannot_link: set[tuple[int, int]],
    continuations: Mapping[tuple[int, int], object],
    link_bonus: float = LINK_BONUS,
    forced: Iterable[tuple[int, int]] = (),
    bars: Mapping[tuple[int, int], float] | None = None,
) -> list[list[int]]:
    """``group_folders`` after linking continuations (see the module docstring); same result
    shape: groups of two or more indices, largest first."""
    components = link_components(embeddings, continuations, threshold - link_bonus, cannot_link, forced, bars)
    if all(len(c) == 1 for c in components):
        return group_folders(embeddings, threshold, cannot_link, weights=weights)
    w = np.asarray(weights, dtype=np.float64)
    pooled = np.stack([(w[c, None] * embeddings[c]).sum(axis=0) / w[c].sum() for c in components])
    unit_of = {i: k for k, c in enumerate(components) for i in c}
    unit_cannot = {(min(unit_of[i], unit_of[j]), max(unit_of[i], unit_of[j])) for i, j in cannot_link}
    grouped = group_folders(pooled.astype(np.float32), threshold, unit_cannot, weights=[w[c].sum() for c in components])
    in_groups = {unit for group in grouped for unit in group}
    groups = [sorted(i for unit in group for i in components[unit]) for group in grouped]
    groups += [
        components[unit] for unit in range(len(components)) if unit not in in_groups and len(components[unit]) > 1
    ]
    return sorted(groups, key=lambda g: (-len(g), g[0]))
