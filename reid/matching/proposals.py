"""Which folders to merge: folder embeddings -> proposed groups, and the near-misses around them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .answers import Answers
from .folders import Folder
from .ground_plane import GroundEvidence, ground_evidence
from .grouping import cannot_link_pairs, choose_survivor, group_similarity
from .linking import LINK_BONUS, group_with_links
from .motion import MotionEvidence, motion_evidence
from .neighbours import nearest_neighbour_pairs
from .seen_together import boxed_twice
from .splitting import PART_MARK

# How much less appearance similarity two folders in one place need (``ground_plane.py``): a place shared
# at the same time is strong evidence, yet a track handed from one person to another is in both places.
GROUND_BONUS = 0.2


@dataclass
class ProposedGroup:
    survivor: Folder
    members: list[Folder]
    min_similarity: float
    mean_similarity: float
    evidence: list[str] = field(default_factory=list)  # continuations that helped (where and when)

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
    """The folders that have an embedding, compared once: their crops' mean similarities, which
    pairs can never be one person (seen in the same frame, or too far apart too soon after) and
    which continue one another (``motion.py``); then grouped at any threshold."""

    def __init__(
        self,
        folders: Sequence[Folder],
        use_motion: bool = True,
        link_bonus: float = LINK_BONUS,
        answers: Answers | None = None,
        handovers: Mapping[str, str] | None = None,
        start_times: Mapping[str, float] | None = None,
    ) -> None:
        self.folders = [f for f in folders if f.embedding is not None]
        self.use_motion = use_motion
        self.link_bonus = link_bonus
        self.answers = answers or Answers()
        self.handovers = dict(handovers or {})  # a crop cut off a track -> the folder it goes to
        self.start_times = dict(start_times or {})  # video (as in track.json) -> its start on one clock (seconds)

    @cached_property
    def ground(self) -> GroundEvidence:
        """Folders of two synchronised cameras in one place, or apart (``ground_plane.py``)."""
        if len(self.start_times) < 2:
            return GroundEvidence(set(), set(), {})
        return ground_evidence(self.folders, self.start_times)

    @cached_property
    def handed(self) -> set[tuple[int, int]]:
        """The pairs (i < j) of a handed-over crop and the folder it goes to (``strays.py``)."""
        index = {f.name: i for i, f in enumerate(self.folders)}
        pairs = [(index[a], index[b]) for a, b in self.handovers.items() if a in index and b in index]
        return {(min(pair), max(pair)) for pair in pairs}

    @cached_property
    def embeddings(self) -> np.ndarray:
        return np.stack([f.embedding for f in self.folders]) if self.folders else np.zeros((0, 0), np.float32)

    @cached_property
    def motion(self) -> MotionEvidence:
        if not self.use_motion:
            return MotionEvidence(set(), {})
        return motion_evidence([f.appearances for f in self.folders])

    @cached_property
    def seen_together(self) -> set[tuple[int, int]]:
        """Pairs seen in the same frames, but for one person boxed twice (``seen_together.boxed_twice``)."""
        pairs = cannot_link_pairs([f.appearances for f in self.folders])
        return pairs - boxed_twice(self.folders, pairs) - self.handed  # a handed crop's box sat on its owner's

    @cached_property
    def kept_apart(self) -> set[tuple[int, int]]:
        """Pairs the person said are two people (``answers.py``)."""
        return self.answers.cannot_link(self.folders)

    @cached_property
    def cannot_link(self) -> set[tuple[int, int]]:
        return self.seen_together | self.motion.vetoes | self.kept_apart | self.ground.apart

    @cached_property
    def crop_counts(self) -> list[int]:
        return [len(f.vectors) if f.vectors is not None else 1 for f in self.folders]

    def groups(self, threshold: float) -> list[list[int]]:
        """Groups of indices into ``folders`` (two or more each) to merge at ``threshold``: by
        average linkage over all pairs of crops, so that neither a folder's size nor a chain of
        look-alikes decides."""
        if len(self.folders) < 2:
            return []
        continuations = self.motion.continuations
        return group_with_links(
            self.embeddings,
            self.crop_counts,
            threshold,
            self.cannot_link,
            continuations,
            self.link_bonus,
            self.handed,
            dict.fromkeys(self.ground.same_place, threshold - GROUND_BONUS),
        )

    def proposals(self, threshold: float) -> list[ProposedGroup]:
        """The groups as merge proposals: the survivor (most crops, then the lowest id) and its members."""
        groups = [self.proposal(group) for group in self.groups(threshold)]
        return [g for g in groups if not self.answers.refuses(g.folders)]  # refused as a whole before

    def proposal(self, group: Sequence[int]) -> ProposedGroup:
        """The folders at these indices (two or more) as one proposal, with their similarity and evidence."""
        counts = [len(f.images) for f in self.folders]
        ids = [(f.sort_id, f.name) for f in self.folders]
        survivor = choose_survivor(group, counts, ids)
        low, mean = group_similarity(self.embeddings, group)
        members = sorted((self.folders[i] for i in group if i != survivor), key=lambda f: (f.sort_id, f.name))
        return ProposedGroup(self.folders[survivor], members, low, mean, self._evidence(group))

    def without(self, group: ProposedGroup, name: str) -> ProposedGroup | None:
        """``group`` with the folder ``name`` left out (None when fewer than two folders remain)."""
        index = {f.name: i for i, f in enumerate(self.folders)}
        rest = [index[f.name] for f in group.folders if f.name != name]
        return self.proposal(rest) if len(rest) >= 2 else None

    def _evidence(self, group: Sequence[int]) -> list[str]:
        found = [
            f"{self.folders[i].name} and {self.folders[j].name}: two cameras saw them in one place at the same time"
            for i, j in sorted(self.ground.same_place)
            if i in group and j in group
        ]
        found += [
            f"{self.folders[i].name} (a crop cut off {self.folders[i].name.split(PART_MARK)[0]}) shows "
            f"{self.folders[j].name}'s person: their tracks were side by side then"
            for i, j in (pair if self.folders[pair[0]].name in self.handovers else pair[::-1] for pair in self.handed)
            if i in group and j in group
        ]
        for (i, j), step in sorted(self.motion.continuations.items()):
            if i in group and j in group:
                first, later = sorted((self.folders[i], self.folders[j]), key=lambda f: f.appearances[0].first)
                found.append(f"{later.name} continues {first.name}: it {step.describe()}")
        return found

    def near_misses(
        self,
        proposals: Sequence[ProposedGroup],
        threshold: float,
        margin: float = 0.05,
        limit: int = 20,
        at_least: int = 5,
    ) -> list[NearMiss]:
        """The most similar pairs of folders that will not be merged together, most similar first:
        pairs just under the threshold, pairs over it kept apart (seen at the same time, too far
        apart too soon after, or closer to each other than to the rest of a group), and at least
        ``at_least`` pairs whatever their score, so a plan without a merge still shows where the
        threshold sits."""
        if len(self.folders) < 2:
            return []
        group_of = {f.name: number for number, group in enumerate(proposals) for f in group.folders}
        # each folder's most similar others only: bounded however many folders there are
        rows, cols, sims, _ = nearest_neighbour_pairs(self.embeddings, -1.0)
        misses = []
        for i, j, similarity in zip(rows.tolist(), cols.tolist(), sims.tolist(), strict=True):
            a, b = self.folders[i], self.folders[j]
            if a.name in group_of and group_of[a.name] == group_of.get(b.name):
                continue
            misses.append(NearMiss(a, b, similarity, self._reason(i, j, similarity, threshold)))
        misses.sort(key=lambda m: (-m.similarity, m.first.name, m.second.name))
        close = [m for m in misses if m.similarity >= threshold - margin]
        return (close if len(close) >= at_least else misses[:at_least])[:limit]

    def _reason(self, i: int, j: int, similarity: float, threshold: float) -> str:
        if (i, j) in self.seen_together:
            return "seen at the same time in one video"
        if (i, j) in self.kept_apart:
            return "you said they are two people"
        if (i, j) in self.ground.apart:
            return "seen at the same time by two cameras, in different places"
        if (i, j) in self.motion.vetoes:
            return "one appears too far from where the other was, too soon after, to be the same person"
        if similarity < threshold:
            return "under the threshold"
        return "over the threshold, but not with the rest of a group"


def propose_groups(folders: Sequence[Folder], threshold: float) -> list[ProposedGroup]:
    """Groups of folders that show the same person (folders without an embedding are left out)."""
    return Comparison(folders).proposals(threshold)
