"""Which folders to merge: folder embeddings -> proposed groups, and the near-misses around them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .folders import Folder
from .grouping import cannot_link_pairs, choose_survivor, group_folders, group_similarity
from .neighbours import nearest_neighbour_pairs


@dataclass
class ProposedGroup:
    survivor: Folder
    members: list[Folder]
    min_similarity: float
    mean_similarity: float

    @property
    def folders(self) -> list[Folder]:
        return [self.survivor, *self.members]


@dataclass
class NearMiss:
    """Two folders that scored close to (or above) the threshold but are not proposed together."""

    first: Folder
    second: Folder
    similarity: float
    reason: str


class Comparison:
    """The folders that have an embedding, compared once: their matrix and which pairs can never
    be one person (seen at the same time); then grouped at any threshold."""

    def __init__(self, folders: Sequence[Folder]) -> None:
        self.folders = [f for f in folders if f.embedding is not None]

    @cached_property
    def embeddings(self) -> np.ndarray:
        return np.stack([f.embedding for f in self.folders]) if self.folders else np.zeros((0, 0), np.float32)

    @cached_property
    def cannot_link(self) -> set[tuple[int, int]]:
        return cannot_link_pairs([f.appearances for f in self.folders])

    def groups(self, threshold: float) -> list[list[int]]:
        """Groups of indices into ``folders`` (two or more each) to merge at ``threshold``."""
        if len(self.folders) < 2:
            return []
        return group_folders(self.embeddings, threshold, self.cannot_link)

    def proposals(self, threshold: float) -> list[ProposedGroup]:
        """The groups as merge proposals: the survivor (most crops, then the lowest id) and its members."""
        counts = [len(f.images) for f in self.folders]
        ids = [(f.sort_id, f.name) for f in self.folders]
        proposals = []
        for group in self.groups(threshold):
            survivor = choose_survivor(group, counts, ids)
            low, mean = group_similarity(self.embeddings, group)
            members = sorted((self.folders[i] for i in group if i != survivor), key=lambda f: (f.sort_id, f.name))
            proposals.append(ProposedGroup(self.folders[survivor], members, low, mean))
        return proposals

    def near_misses(
        self, proposals: Sequence[ProposedGroup], threshold: float, margin: float = 0.05, limit: int = 20
    ) -> list[NearMiss]:
        """The most similar pairs of folders that will not be merged together, most similar first:
        pairs just under the threshold, and pairs over it kept apart (seen at the same time, or
        closer to each other than to the rest of a group)."""
        if len(self.folders) < 2:
            return []
        group_of = {f.name: number for number, group in enumerate(proposals) for f in group.folders}
        # each folder's most similar others only: bounded however low the threshold
        rows, cols, sims, _ = nearest_neighbour_pairs(self.embeddings, threshold - margin)
        misses = []
        for i, j, similarity in zip(rows.tolist(), cols.tolist(), sims.tolist(), strict=True):
            a, b = self.folders[i], self.folders[j]
            if a.name in group_of and group_of[a.name] == group_of.get(b.name):
                continue
            if (i, j) in self.cannot_link:
                reason = "seen at the same time in one video"
            elif similarity < threshold:
                reason = "under the threshold"
            else:
                reason = "over the threshold, but not with the rest of a group"
            misses.append(NearMiss(a, b, similarity, reason))
        misses.sort(key=lambda m: (-m.similarity, m.first.name, m.second.name))
        return misses[:limit]


def propose_groups(folders: Sequence[Folder], threshold: float) -> list[ProposedGroup]:
    """Groups of folders that show the same person (folders without an embedding are left out)."""
    return Comparison(folders).proposals(threshold)
