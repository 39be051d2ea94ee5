"""Clustering quality of a merge: pairwise and BCubed precision and recall over labels.

Items are person folders; ``truth[i]`` is folder i's real identity, ``predicted[i]`` the
group it ends up in after merging (a folder left alone is its own group).

* Pairwise precision: of the folder pairs merged together, the share that are one person.
  Pairwise recall: of the folder pairs that are one person, the share merged together.
  The pair counts come from scikit-learn's ``pair_confusion_matrix``.
* BCubed (Bagga & Baldwin 1998): per folder, precision is the share of its group that is
  its identity and recall the share of its identity inside its group; both averaged over
  folders. Unlike pairwise scores it does not let a few large groups dominate. scikit-learn
  has no BCubed, so it is computed here from the joint counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from sklearn.metrics.cluster import pair_confusion_matrix


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


def pairwise_scores(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> tuple[float, float]:
    """(precision, recall) over pairs of items. A precision with no predicted pair is 1.0
    (nothing wrong was merged); a recall with no true pair is 1.0.

    >>> pairwise_scores(["a", "a", "b"], [1, 1, 1])  # 3 merged pairs, 1 right
    (0.3333333333333333, 1.0)
    """
    _check(truth, predicted)
    if len(truth) < 2:
        return 1.0, 1.0
    # scikit-learn counts ordered pairs: [[apart in both, merged wrongly], [missed, merged rightly]]
    (_, merged_wrongly), (missed, merged_rightly) = pair_confusion_matrix(_codes(truth), _codes(predicted)).tolist()
    merged, same = merged_rightly + merged_wrongly, merged_rightly + missed
    return (merged_rightly / merged if merged else 1.0, merged_rightly / same if same else 1.0)


def _codes(labels: Sequence[Hashable]) -> list[int]:
    """Labels of any hashable kind as small integers, which scikit-learn accepts whatever they were."""
    seen: dict[Hashable, int] = {}
    return [seen.setdefault(label, len(seen)) for label in labels]


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
