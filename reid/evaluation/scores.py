"""Clustering quality of a merge: pure functions over labels (no numpy needed, numpy accepted).

Items are person folders; ``truth[i]`` is folder i's real identity, ``predicted[i]`` the
group it ends up in after merging (a folder left alone is its own group).

* Pairwise precision: of the folder pairs merged together, the share that are one person.
  Pairwise recall: of the folder pairs that are one person, the share merged together.
* BCubed (Bagga & Baldwin 1998): per folder, precision is the share of its group that is
  its identity and recall the share of its identity inside its group; both averaged over
  folders. Unlike pairwise scores it does not let a few large groups dominate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    pairwise_precision: float
    pairwise_recall: float
    bcubed_precision: float
    bcubed_recall: float

    @property
    def bcubed_f1(self) -> float:
        p, r = self.bcubed_precision, self.bcubed_recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _pairs(counts: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def pairwise_scores(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> tuple[float, float]:
    """(precision, recall) over pairs of items. A precision with no predicted pair is 1.0
    (nothing wrong was merged); a recall with no true pair is 1.0.

    >>> pairwise_scores(["a", "a", "b"], [1, 1, 1])  # 3 merged pairs, 1 right
    (0.3333333333333333, 1.0)
    """
    _check(truth, predicted)
    both = _pairs(Counter(zip(truth, predicted, strict=True)))
    merged = _pairs(Counter(predicted))
    same = _pairs(Counter(truth))
    return (both / merged if merged else 1.0, both / same if same else 1.0)


def bcubed_scores(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> tuple[float, float]:
    """(precision, recall) averaged over items.

    >>> bcubed_scores(["a", "a", "b"], [1, 1, 1])
    (0.5555555555555555, 1.0)
    """
    _check(truth, predicted)
    if not truth:
        return 1.0, 1.0
    joint = Counter(zip(truth, predicted, strict=True))
    cluster = Counter(predicted)
    identity = Counter(truth)
    precision = sum(joint[(t, p)] / cluster[p] for t, p in zip(truth, predicted, strict=True)) / len(truth)
    recall = sum(joint[(t, p)] / identity[t] for t, p in zip(truth, predicted, strict=True)) / len(truth)
    return precision, recall


def score(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> Scores:
    return Scores(*pairwise_scores(truth, predicted), *bcubed_scores(truth, predicted))


def labels_from_groups(n: int, groups: Sequence[Sequence[int]]) -> list[int]:
    """Predicted labels for ``n`` items: each group's members share a label, the rest are alone.

    >>> labels_from_groups(4, [[1, 3]])
    [0, 1, 2, 1]
    """
    labels = list(range(n))
    for group in groups:
        for member in group:
            labels[member] = group[0]
    return labels


def _check(truth: Sequence, predicted: Sequence) -> None:
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predicted ones")
