"""The order in which a reviewer is asked about a plan's groups: the answers that change the count
most come first, and among equals the least certain, whose answer teaches the threshold most."""

from __future__ import annotations

from collections.abc import Sequence

from .proposals import ProposedGroup


def order_proposals(proposals: Sequence[ProposedGroup], threshold: float) -> list[ProposedGroup]:
    """The groups by the folders their acceptance removes (most first), then by how close their lowest
    similarity is to ``threshold`` (closest first); the plan's order breaks what ties remain.

    >>> from pathlib import Path
    >>> from .folders import Folder
    >>> def group(names, low):
    ...     folders = [Folder(n, Path(n), []) for n in names]
    ...     return ProposedGroup(folders[0], folders[1:], low, low)
    >>> pair_far, pair_near, three = group("ab", 0.9), group("cd", 0.31), group("efg", 0.1)
    >>> [g.survivor.name for g in order_proposals([pair_far, pair_near, three], 0.3)]
    ['e', 'c', 'a']
    """
    return sorted(proposals, key=lambda g: (-len(g.members), abs(g.min_similarity - threshold)))
