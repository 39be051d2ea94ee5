"""The count with its uncertainty: how many people the plan leaves, and between how many it could be.

A pair of folders whose similarity lies within ``MARGIN`` of the threshold could have gone either
way: a folder merged that barely cleared it may be someone else (one more person), a pair that barely
missed it may be one person (one fewer). The range counts those pairs; it says how far the count
can be trusted, not where the truth is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.cli import plural

MARGIN = 0.05  # similarity either side of the threshold within which a decision could have gone either way


@dataclass(frozen=True)
class CountRange:
    people: int
    low: int
    high: int
    uncertain: int  # pairs within the margin of the threshold

    def describe(self) -> str:
        """``9 people; between 8 and 11: 3 pairs are uncertain``."""
        count = f"{self.people} {'person' if self.people == 1 else 'people'}"
        if not self.uncertain:
            return f"{count}; no pair is within {MARGIN} of the threshold"
        verb = "is" if self.uncertain == 1 else "are"
        return f"{count}; between {self.low} and {self.high}: {plural(self.uncertain, 'pair')} {verb} uncertain"

    def as_status(self) -> dict[str, int]:
        return {
            "people": self.people,
            "people_low": self.low,
            "people_high": self.high,
            "uncertain_pairs": self.uncertain,
        }


def count_range(
    embeddings: np.ndarray,
    groups: Sequence[Sequence[int]],
    missed: Iterable[tuple[int, int, float]],
    people: int,
    threshold: float,
    margin: float = MARGIN,
) -> CountRange:
    """The range around ``people`` (folders after the plan): one more for each member of a group whose
    mean similarity to the rest of its group is under ``threshold + margin`` (a group keeps at least its
    first folder), one fewer for each pair in ``missed`` (index, index, similarity: pairs not merged and
    not kept apart by a veto) at or above ``threshold - margin``, as far as joining them would join
    distinct folders.

    >>> e = np.array([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0], [0.42, 0.907]])
    >>> r = count_range(e, [[0, 1]], [(2, 3, 0.907)], people=3, threshold=0.9)
    >>> (r.low, r.high, r.uncertain)
    (2, 3, 1)
    """
    high = 0
    for group in groups:
        members = list(group)
        sub = embeddings[members] @ embeddings[members].T
        means = (sub.sum(axis=1) - np.diag(sub)) / (len(members) - 1)
        high += min(len(members) - 1, int(np.sum(means < threshold + margin)))
    parent = list(range(len(embeddings)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for group in groups:  # folders merged by the plan are one already
        for member in group[1:]:
            parent[root(member)] = root(group[0])
    low = 0
    close = [(i, j) for i, j, similarity in missed if similarity >= threshold - margin]
    for i, j in close:
        a, b = root(i), root(j)
        if a != b:
            parent[a] = b
            low += 1
    return CountRange(people, max(1, people - low) if people else 0, people + high, high + len(close))
