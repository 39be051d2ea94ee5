"""The merge stage's plan on a tracked video, scored against the ground truth at each threshold.

The folders are embedded and, when the merge stage would do it, normalised per camera; then
``decide_at`` makes the real plan (splits, cannot-links, motion vetoes and continuations, average
linkage) at each threshold. A split part is a folder of its own for the scores: its crops keep the
ground-truth ids they were matched to, and its track's boxes from the part's first crop's frame on
take its new label in the MOT scores. Nothing is moved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from ..matching import linking, proposals
from ..matching.camera import Normalisation, normalise_per_camera
from ..matching.decision import Decision, decide_at
from ..matching.embedding import Cache, Extractor, NoCache, embed_folders
from ..matching.folders import Folder
from ..matching.splitting import apply_splits
from ..tracking.mot import MotRow
from . import identity as ident
from .scores import pairwise_scores
from .video_folders import FolderScore

MIXING = 0.05  # the issue: no folder may mix two people for more than 5% of its crops


@dataclass(frozen=True)
class Variant:
    """How the plan uses where and when: motion evidence on (with its link bonus) or off."""

    motion: bool = True
    link_bonus: float = linking.LINK_BONUS

    def describe(self) -> str:
        return f"motion evidence on, LINK_BONUS {self.link_bonus:g}" if self.motion else "motion evidence off"


@dataclass
class Outcome:
    """The count at one point: before the merge, or after the plan at one threshold."""

    identities: list[ident.Identity]  # per folder, or per merged group (crop level)
    mot: dict[str, float]
    threshold: float | None = None
    pairwise: tuple[float, float] = (float("nan"), float("nan"))  # the merge's (precision, recall)
    pairs: tuple[int, int] = (0, 0)  # folder pairs merged, of them with an off-GT folder
    splits: int = 0  # folders the plan splits
    on_gt: tuple[float, float] = (float("nan"), float("nan"))  # (precision, recall) over folders on a GT person
    caused_mixing: int = 0  # merged groups mixing > 5% that join folders of different GT persons
    wrong_merges: int = 0  # merged groups that join folders of different GT persons (``wrong_merges``)
    wrong_groups: list[list[tuple[str, int | None]]] = field(default_factory=list)  # their (folder, GT id)s
    # per folder split by the plan: (its last crop frame before, its first crop frame after) each switch,
    # and whom each part shows
    split_bounds: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    split_parts: dict[int, list[ident.Identity]] = field(default_factory=dict)


@dataclass
class MergeSweep:
    variant: Variant
    continuations: int  # pairs of folders the motion evidence links (0 when it is off)
    vetoes: int
    rows: list[Outcome] = field(default_factory=list)
    default: Outcome | None = None


def mixing(identity: ident.Identity) -> float:
    """The share of a folder's crops that show a ground-truth person other than its majority (crops that
    show nobody are not a second person)."""
    other = identity.boxes - identity.majority_boxes - identity.unmatched
    return other / identity.boxes if identity.boxes else 0.0


class Units:
    """The folders as the plan leaves them: split parts become folders of their own, with labels."""

    def __init__(self, scored: Sequence[FolderScore], decision: Decision) -> None:
        by_name = {s.folder.name: s for s in scored}
        self.folders = apply_splits([s.folder for s in scored], decision.splits)
        self.ids: list[int] = []  # each unit's label in the MOT rows
        self.crop_ids: list[list[int | None]] = []
        self.starts: dict[int, list[tuple[int, int]]] = {}  # person id -> (first crop frame, label) per part
        spare = max((s.person_id for s in scored), default=0)
        for unit in self.folders:
            split = next((s for s in decision.splits if any(unit is part for part in s.parts)), None)
            if split is None:  # a folder as it was
                self.ids.append(by_name[unit.name].person_id)
                self.crop_ids.append(list(by_name[unit.name].crop_ids))
                continue
            owner = by_name[split.folder.name]
            if unit is split.parts[0]:
                label = owner.person_id
            else:
                spare += 1
                label = spare
            self.ids.append(label)
            self.crop_ids.append([owner.by_file.get(p.name) for p in unit.images])
            self.starts.setdefault(owner.person_id, []).append((owner.offset + min(unit.frames.values()), label))

    def label_of(self, row: MotRow) -> int:
        """The unit a track box belongs to (MOT frame k is crop frame k - 1, both on the timeline)."""
        label = row.id
        for start, part in sorted(self.starts.get(row.id, [])):
            if row.frame - 1 >= start:
                label = part
        return label

    def groups(self, decision: Decision) -> list[list[int]]:
        index = {unit.name: n for n, unit in enumerate(self.folders)}
        return [[index[f.name] for f in group.folders] for group in decision.proposals]


def _labels(n: int, groups: Sequence[Sequence[int]]) -> list[int]:
    labels = list(range(n))
    for group in groups:
        for member in group:
            labels[member] = min(group)
    return labels


def score_plan(
    scored: Sequence[FolderScore], decision: Decision, gt: list[MotRow], hypotheses: list[MotRow]
) -> Outcome:
    """The count after ``decision``'s splits and merges."""
    units = Units(scored, decision)
    labels = _labels(len(units.folders), units.groups(decision))
    identities = [ident.identity_of(ids) for ids in units.crop_ids]
    merged = ident.merged_identities(units.crop_ids, labels)
    final = {units.ids[n]: units.ids[label] for n, label in enumerate(labels)}
    relabelled = [
        MotRow(r.frame, final.get(units.label_of(r), units.label_of(r)), r.x, r.y, r.w, r.h, r.conf) for r in hypotheses
    ]
    truth = ident.pair_truth(identities)
    on = [n for n, i in enumerate(identities) if not i.off_gt]
    outcome = Outcome(merged, ident.mot_scores(gt, relabelled), decision.threshold, pairwise_scores(truth, labels))
    outcome.pairs, outcome.splits = ident.merged_pairs(labels, identities), len(decision.splits)
    outcome.on_gt = pairwise_scores([truth[n] for n in on], [labels[n] for n in on])
    outcome.caused_mixing = caused_mixing(identities, units.crop_ids, labels)
    wrong = wrong_merges(identities, labels)
    outcome.wrong_merges = len(wrong)
    outcome.wrong_groups = [[(units.folders[n].name, identities[n].majority) for n in group] for group in wrong]
    owners, index = {s.folder.name: s.person_id for s in scored}, {u.name: n for n, u in enumerate(units.folders)}
    for split in decision.splits:
        owner, parts = owners[split.folder.name], split.parts
        outcome.split_bounds[owner] = [(max(a.frames.values()), min(b.frames.values())) for a, b in pairwise(parts)]
        outcome.split_parts[owner] = [identities[index[part.name]] for part in parts]
    return outcome


def wrong_merges(identities: Sequence[ident.Identity], labels: Sequence[int]) -> list[list[int]]:
    """The merged groups (their members) that join folders of two or more GT persons: folders whose
    majorities differ (folders mostly on nobody do not count: the GT cannot say whom they show).

    >>> alice, bob, nobody = ident.Identity(4, 1, 4, 0), ident.Identity(4, 2, 3, 1), ident.Identity(2, None, 0, 2)
    >>> wrong_merges([alice, bob, nobody, alice, nobody], [0, 0, 0, 3, 3])
    [[0, 1, 2]]
    """
    groups: dict[int, list[int]] = {}
    for n, label in enumerate(labels):
        groups.setdefault(label, []).append(n)
    return [
        members
        for members in groups.values()
        if len({identities[n].majority for n in members if not identities[n].off_gt}) > 1
    ]


def caused_mixing(
    identities: Sequence[ident.Identity], crop_ids: Sequence[Sequence[int | None]], labels: Sequence[int]
) -> int:
    """Merged groups that mix two people for more than 5% of their crops because the merge joined folders
    whose majorities are different GT persons (a folder mixed by the tracker stays mixed, merged or not)."""
    groups: dict[int, list[int]] = {}
    for n, label in enumerate(labels):
        groups.setdefault(label, []).append(n)
    found = 0
    for members in groups.values():
        majorities = {identities[n].majority for n in members if identities[n].majority is not None}
        pooled = ident.identity_of([gt_id for n in members for gt_id in crop_ids[n]])
        found += len(majorities) > 1 and mixing(pooled) > MIXING
    return found


def merge_sweeps(
    scored: Sequence[FolderScore],
    gt: list[MotRow],
    hypotheses: list[MotRow],
    load_extractor: Callable[[], Extractor],
    thresholds: Sequence[float],
    default_for: Callable[[Sequence[Folder], bool], float],
    variants: Sequence[Variant] = (Variant(),),
    normalise: bool = True,
    cache: Cache | None = None,
    start_times: Mapping[str, float] | None = None,
) -> tuple[Normalisation, list[MergeSweep]]:
    """The plan of each variant at each threshold, and at the threshold a real merge would choose
    (``default_for(folders, normalised)``: the footage's, or the default of the mode applied).
    Folders without an embedding (no readable crop) stay alone, as they do in a real merge. The
    folders are embedded again (from ``cache`` when given), so a normalisation of an earlier call
    on some of them is undone. ``start_times``: the videos' starts on one clock (by their paths in
    track.json), as ``deeplearningg_reID.py --start-times`` gives them to the plan."""
    folders: list[Folder] = [s.folder for s in scored]
    embed_folders(folders, load_extractor, NoCache() if cache is None else cache)
    readable = [f for f in folders if f.embedding is not None]
    off = Normalisation(False, "turned off (--no-camera-normalisation)")
    normalisation = normalise_per_camera(readable) if normalise else off
    sweeps = []
    for variant in variants:

        def plan(threshold: float, variant: Variant = variant) -> Outcome:
            decision = decide_at(
                readable, threshold, normalisation, variant.motion, variant.link_bonus, start_times=start_times
            )
            return score_plan(scored, decision, gt, hypotheses)

        motion = proposals.Comparison(readable, use_motion=variant.motion).motion
        sweep = MergeSweep(variant, len(motion.continuations), len(motion.vetoes))
        sweep.rows = [plan(float(t)) for t in thresholds]
        sweep.default = plan(default_for(readable, normalisation.applied))  # as decide() chooses it
        sweeps.append(sweep)
    return normalisation, sweeps
