"""Constrained average linkage (numpy only): ``group_folders`` joins the most similar clusters of
folders while their average similarity reaches the threshold, and never joins two clusters that
hold a cannot-link pair (``grouping.cannot_link_pairs``), so neither a chain of look-alikes nor a
co-occurrence can merge two different people.

With unit vectors, the average cosine similarity between two clusters equals the dot
product of their vector sums divided by the product of their sizes (or crop counts, when
folders are weighted by them), so each merge costs one dot product per neighbouring
cluster instead of a pass over all pairs. Each folder is compared with its most similar
folders only (``neighbours.py``), and each cluster keeps its best neighbours only, so the
work stays bounded however many pairs are above a low threshold.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

import numpy as np

from .neighbours import MAX_NEIGHBOURS, NeighbourGraph, nearest_neighbour_pairs


def group_folders(
    embeddings: np.ndarray,
    threshold: float,
    cannot_link: Iterable[tuple[int, int]] = (),
    weights: Sequence[float] | None = None,
    max_neighbours: int = MAX_NEIGHBOURS,
) -> list[list[int]]:
    """Groups (of two or more folder indices) to merge, by constrained average linkage.

    Repeatedly joins the two clusters with the highest average pairwise similarity while it
    is >= ``threshold``, skipping pairs whose union would contain a cannot-link pair. Groups
    are returned sorted, largest first, then by lowest index; members sorted.

    The work is bounded however low the threshold: each folder is compared with its
    ``max_neighbours`` most similar folders only (``nearest_neighbour_pairs``), and a merged
    cluster with its ``max_neighbours`` best neighbouring clusters only. When no folder has more
    than ``max_neighbours`` others at or above the threshold, nothing is left out and the groups
    are exactly those of unbounded average linkage. Either way, every join has an average
    (computed exactly from the clusters' sums) >= ``threshold`` and no cannot-link pair.

    With ``weights``, row i of ``embeddings`` is the (not normalised) mean of folder i's crop
    vectors and ``weights[i]`` its number of crops: clusters are then compared by the mean
    similarity over all their pairs of crops. Without, every folder weighs 1.

    >>> crops = [np.array([[1.0, 0.0], [0.6, 0.8]]), np.array([[0.8, 0.6]])]
    >>> means = np.stack([c.mean(axis=0) for c in crops])  # mean similarity over the crop pairs: 0.88
    >>> group_folders(means, 0.85, weights=[2, 1]), group_folders(means, 0.9, weights=[2, 1])
    ([[0, 1]], [])
    """
    e = np.ascontiguousarray(embeddings, dtype=np.float32)  # no copy for float32 input
    w = np.ones(len(e)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(e),) or not (w > 0).all():
        raise ValueError("weights must be one positive number per folder")
    graph = nearest_neighbour_pairs(e, threshold, max_neighbours)
    linkage = _Linkage(e, w, cannot_link, graph, None if graph.complete else max_neighbours)
    linkage.run(threshold)
    groups = [sorted(m) for m in linkage.members.values()]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


class _Linkage:
    """One agglomeration. Clusters 0..n-1 are the folders; each join makes a new one, n, n+1, ...

    A cluster has a weight (the sum of its folders'), a vector sum (folder i's is ``e[i] * w[i]``;
    merged clusters keep theirs in float64) and the clusters it cannot join. The average similarity
    of two clusters is the dot product of their sums over the product of their weights.

    Each cluster lists, best first, the clusters it may join (at or above the threshold, never
    cannot-linked): a folder its pairs in the candidate graph, a merged cluster those it kept when
    it was made. A pair is in the list of its newer cluster (a pair of folders in both lists). The
    heap holds one entry per cluster, its best pair with a live cluster when pushed; an entry whose
    partner has joined another since gives way to the cluster's next pair. The best pair of all is
    its cluster's best, so joins come in the order a heap of every pair would give them.
    """

    def __init__(
        self,
        e: np.ndarray,
        w: np.ndarray,
        cannot_link: Iterable[tuple[int, int]],
        graph: NeighbourGraph,
        limit: int | None,
    ) -> None:
        n = len(e)
        self.e, self.limit, self.next_id = e, limit, n
        self.alive = np.zeros(2 * n, bool)
        self.alive[:n] = True
        self.weight = np.concatenate([w, np.zeros(n)])
        self.sums: dict[int, np.ndarray] = {}  # merged clusters only
        self.members: dict[int, list[int]] = {}  # merged clusters only
        self.cannot: dict[int, set[int]] = {}
        for i, j in cannot_link:
            if not (0 <= i < n and 0 <= j < n):
                raise ValueError(f"cannot-link pair ({i}, {j}) is not a pair of the {n} folders")
            self.cannot.setdefault(i, set()).add(j)
            self.cannot.setdefault(j, set()).add(i)
        first, second, similarity = graph.first, graph.second, graph.similarity
        if self.cannot:  # a cannot-link pair, or clusters containing one, never join
            forbidden = [i * n + j for i, others in self.cannot.items() for j in others if i < j]
            allowed = ~np.isin(first * n + second, forbidden)
            first, second, similarity = first[allowed], second[allowed], similarity[allowed]
        # each folder's pairs, folder by folder, best first: in the order of a heap of (-similarity, i, j)
        owner, other = np.concatenate([first, second]), np.concatenate([second, first])
        i, j, s = np.concatenate([first, first]), np.concatenate([second, second]), np.tile(similarity, 2)
        order = np.lexsort((j, i, -s, owner))
        self.starts = np.searchsorted(owner[order], np.arange(n + 1)).tolist()
        self.folder_pairs = (other[order], s[order])
        self.pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # merged clusters' (partners, averages)
        self.position = [0] * (2 * n)  # in each cluster's list: the pairs before it are dead
        self.later: dict[int, list[int]] = {}  # the clusters that listed it since it was made

    def run(self, threshold: float) -> None:
        """Join the best pair while there is one (all pairs listed are at or above the threshold)."""
        heap = [entry for x in range(len(self.e)) if (entry := self._best(x))]
        heapq.heapify(heap)
        while heap:
            _, a, b, x = heapq.heappop(heap)
            if not self.alive[x]:
                continue  # the entry of a cluster that has joined since
            if self.alive[a] and self.alive[b]:
                x = self.join(a, b, threshold)
            entry = self._best(x)  # the new cluster's, or x's next pair
            if entry:
                heapq.heappush(heap, entry)

    def _listed(self, x: int) -> tuple[np.ndarray, np.ndarray]:
        """Cluster x's list: its partners and their averages, best first."""
        if x >= len(self.e):
            return self.pairs[x]
        start, stop = self.starts[x], self.starts[x + 1]
        return self.folder_pairs[0][start:stop], self.folder_pairs[1][start:stop]

    def _best(self, x: int) -> tuple[float, int, int, int] | None:
        """Cluster x's best pair with a live cluster, as a heap entry; None when there is none."""
        partners, averages = self._listed(x)
        p = self.position[x]
        while p < len(partners) and not self.alive[partners[p]]:
            p += 1
        self.position[x] = p
        if p == len(partners):
            return None
        y = int(partners[p])
        return -float(averages[p]), min(x, y), max(x, y), x

    def join(self, a: int, b: int, threshold: float) -> int:
        """Join clusters a and b into a new one, listing its pairs; the new one."""
        c, self.next_id = self.next_id, self.next_id + 1
        self.alive[a] = self.alive[b] = False
        self.alive[c] = True
        self.weight[c] = self.weight[a] + self.weight[b]
        self.sums[c] = self._pop_sum(a) + self._pop_sum(b)
        self.members[c] = self.members.pop(a, [a]) + self.members.pop(b, [b])
        cannot = self.cannot.pop(a, set()) | self.cannot.pop(b, set())
        for d in cannot:
            self.cannot[d] -= {a, b}
            self.cannot[d].add(c)
        if cannot:
            self.cannot[c] = cannot
        # Average linkage: avg(c, d) is a weighted mean of avg(a, d) and avg(b, d), so only
        # clusters a or b listed, or were listed by, can reach the threshold with c.
        listed = set(self._pop_listed(a) + self._pop_listed(b)) - cannot
        candidates = np.array(sorted(d for d in listed if self.alive[d]), dtype=np.int64)
        averages = self._averages(c, candidates)
        keep = np.flatnonzero(averages >= threshold)
        if self.limit is not None and len(keep) > self.limit:  # bounded: the best, so the work stays O(n k)
            keep = keep[np.argsort(-averages[keep], kind="stable")[: self.limit]]
        if len(keep) > 1:
            keep = keep[np.lexsort((candidates[keep], -averages[keep]))]  # best first, as a heap would give them
        self.pairs[c] = (candidates[keep], averages[keep])
        for d in candidates[keep].tolist():
            self.later.setdefault(d, []).append(c)
        return c

    def _pop_listed(self, x: int) -> list[int]:
        """The clusters x listed or was listed by (some dead since), forgotten."""
        listed = self._listed(x)[0].tolist() + self.later.pop(x, [])
        self.pairs.pop(x, None)
        return listed

    def _pop_sum(self, x: int) -> np.ndarray:
        if x in self.sums:
            return self.sums.pop(x)
        return np.multiply(self.e[x], self.weight[x], dtype=np.float64)

    def _averages(self, c: int, ids: np.ndarray) -> np.ndarray:
        """avg(c, d) for the clusters ``ids``."""
        # a folder's sum is its row times its weight, which its weight in the denominator cancels
        single = ids < len(self.e)
        if single.all():
            return (self.e[ids] @ self.sums[c]) / self.weight[c]
        averages = np.empty(len(ids))
        averages[single] = (self.e[ids[single]] @ self.sums[c]) / self.weight[c]
        merged = ids[~single]
        sums = np.stack([self.sums[d] for d in merged.tolist()])
        averages[~single] = (sums @ self.sums[c]) / (self.weight[c] * self.weight[merged])
        return averages
