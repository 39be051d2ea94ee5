"""From embedded folders to the plan: per-camera normalisation, the threshold that goes with it,
the folders to split, and the groups to merge, with the words that explain each to the user."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.backbones import BACKBONES
from ..core.cli import plural
from ..core.config import MatchingConfig
from ..merging import Group, Split
from .answers import Answers
from .camera import Normalisation, normalise_per_camera
from .folders import Folder
from .grouping import cannot_link_pairs
from .learning import choose_learned_threshold
from .linking import LINK_BONUS
from .ordering import order_proposals
from .proposals import Comparison, ProposedGroup
from .seen_together import pairs_compared, seen_together_similarities
from .splitting import ProposedSplit, apply_splits, describe, find_splits, is_part, part_files
from .threshold import ThresholdChoice, unlike_levels
from .uncertainty import MARGIN, CountRange, count_range


@dataclass
class Decision:
    threshold: float
    normalisation: Normalisation
    splits: list[ProposedSplit]
    comparison: Comparison
    proposals: list[ProposedGroup]
    choice: ThresholdChoice | None = None  # how the threshold was chosen (None: given by the caller)

    @property
    def changes(self) -> bool:
        return bool(self.splits or self.proposals)

    def count(self, folders_total: int) -> CountRange:
        """The people the plan leaves of ``folders_total`` person folders (readable or not), with the
        range its close calls allow (``uncertainty.py``)."""
        folders = self.comparison.folders
        index = {f.name: i for i, f in enumerate(folders)}
        groups = [[index[f.name] for f in g.folders] for g in self.proposals]
        people = folders_total + sum(len(s.parts) - 1 for s in self.splits) - sum(len(g) - 1 for g in groups)
        misses = self.comparison.near_misses(self.proposals, self.threshold, margin=MARGIN, limit=len(folders) ** 2)
        missed = [(index[m.first.name], index[m.second.name], m.similarity) for m in misses]
        missed = [pair for pair, m in zip(missed, misses, strict=True) if m.reason == "under the threshold"]
        return count_range(self.comparison.embeddings, groups, missed, people, self.threshold)

    def operations(self, allocate: Callable[[], str]) -> tuple[list[Group], list[Split]]:
        """The merge engine's groups and splits; ``allocate()`` names each split-off part's new folder."""
        names = {part.name: allocate() for s in self.splits for part in s.parts if is_part(part.name)}
        splits = [
            Split(s.folder.name, part_files(part), names[part.name])
            for s in self.splits
            for part in s.parts
            if is_part(part.name)
        ]
        groups = [
            Group(names.get(g.survivor.name, g.survivor.name), [names.get(m.name, m.name) for m in g.members])
            for g in self.proposals
        ]
        return groups, splits


def decide(
    folders: Sequence[Folder],
    config: MatchingConfig,
    use_motion: bool = True,
    answers: Answers | None = None,
    start_times: Mapping[str, float] | None = None,
) -> Decision:
    """The plan for the embedded ``folders`` (their vectors are normalised in place when it applies),
    obeying the person's earlier ``answers``; ``start_times``: the videos' starts on one clock, where
    known (``ground_plane.py`` then places the folders of synchronised cameras)."""
    readable = [f for f in folders if f.embedding is not None]
    normalisation = normalise_per_camera(readable)
    seen = _seen_together(readable)  # once: the threshold and the splitter both ask
    choice = threshold_choice(readable, config, normalisation.applied, answers, seen)
    decision = decide_at(
        readable, choice.value, normalisation, use_motion, answers=answers, seen=seen, start_times=start_times
    )
    decision.choice = choice
    return decision


def threshold_choice(
    folders: Sequence[Folder],
    config: MatchingConfig,
    camera_normalised: bool,
    answers: Answers | None = None,
    seen: dict[str, np.ndarray] | None = None,
) -> ThresholdChoice:
    """``--threshold`` when given; else the footage's own (``threshold.py``), from the folders seen together
    as they are now (before any split), or the backbone's default when too few were; taught by the
    person's ``answers`` where they have some (``learning.py``); ``seen``: ``_seen_together(folders)``,
    when already made."""
    if config.threshold is not None:
        return ThresholdChoice(config.threshold, "given with --threshold")
    default = config.threshold_for(camera_normalised)
    if not folders:
        return ThresholdChoice(default, f"{config.backbone}'s default")
    pairs = cannot_link_pairs([f.appearances for f in folders])
    return choose_learned_threshold(
        seen_together_similarities(folders, pairs) if seen is None else seen,
        answers or Answers(),
        default,
        f"{config.backbone}'s default",
        pairs_compared(folders, pairs),
    )


def _seen_together(folders: Sequence[Folder]) -> dict[str, np.ndarray]:
    """Each video's similarities of its folders seen in the same frames: pairs of different people."""
    return seen_together_similarities(folders, cannot_link_pairs([f.appearances for f in folders]))


def decide_at(
    folders: Sequence[Folder],
    threshold: float,
    normalisation: Normalisation,
    use_motion: bool = True,
    link_bonus: float = LINK_BONUS,
    splits: list[ProposedSplit] | None = None,
    answers: Answers | None = None,
    seen: dict[str, np.ndarray] | None = None,
    start_times: Mapping[str, float] | None = None,
) -> Decision:
    """The plan at ``threshold`` for folders already embedded and normalised (an evaluation sweeps it).
    A track is split where its two sides look as unlike as most people seen together in its video
    do (``unlike_levels``), or, in a video with too few of them, under the threshold. ``splits``:
    those to make instead (the person answered each); ``answers``: the person's earlier answers,
    obeyed (``answers.py``); ``seen``: ``_seen_together(folders)``, when already made; ``start_times``:
    as for ``decide``."""
    answers = answers or Answers()
    if splits is None:
        found = find_splits(folders, threshold, unlike_levels(_seen_together(folders) if seen is None else seen))
        splits = [s for s in found if not answers.keeps_whole(s.folder)]
    handovers = {part: owner for s in splits for part, owner in s.owners.items()}
    parts = apply_splits(folders, splits)
    comparison = Comparison(parts, use_motion, link_bonus, answers, handovers, start_times)
    proposals = order_proposals(comparison.proposals(threshold), threshold)  # numbered as they are asked
    return Decision(threshold, normalisation, splits, comparison, proposals)


def plan_lines(decision: Decision, backbone: str) -> list[str]:
    """The plan as printed before the question."""
    lines = [f"Features: {backbone}, threshold {decision.threshold:.3f}; {decision.normalisation.describe()}."]
    if decision.choice is not None:
        lines.append(f"Threshold: {decision.choice.basis}.")
    lines += [f"Cameras: {said}." for said in decision.comparison.ground.said]
    if BACKBONES[backbone].kind == "keras":
        lines.append(
            "Note: ImageNet features are not trained to tell people apart and find few of the same people; "
            "--backbone reid-0287, a network trained for it, finds far more (see docs/accuracy.md)."
        )
    if not decision.changes:
        lines.append(f"No two folders are similar enough (threshold {decision.threshold:.3f}): nothing to merge.")
        return lines
    if decision.splits:
        lines.append("Proposed splits (a track handed from one person to another):")
        lines += [f"  - {describe(s)}" for s in decision.splits]
    if decision.proposals:
        lines.append("Proposed merges:")
    for number, group in enumerate(decision.proposals, 1):
        members = ", ".join(f"{f.name} ({plural(len(f.images), 'crop')})" for f in group.members)
        lines.append(f"  {number}. {group.survivor.name} ({plural(len(group.survivor.images), 'crop')})  <-  {members}")
        lines.append(f"     similarity min {group.min_similarity:.3f}  mean {group.mean_similarity:.3f}")
        lines += [f"     {line}" for line in group.evidence]
    return lines


def question(decision: Decision) -> str:
    parts = []
    if decision.splits:
        parts.append(f"split {len(decision.splits)} folder{'' if len(decision.splits) == 1 else 's'}")
    if decision.proposals:
        involved = sum(len(g.folders) for g in decision.proposals)
        groups = len(decision.proposals)
        parts.append(f"merge {groups} group{'' if groups == 1 else 's'} ({involved} folders)")
    text = " and ".join(parts)
    return f"{text[0].upper()}{text[1:]}? [y/N] "
