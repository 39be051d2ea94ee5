"""Folders that hold two people: a tracker sometimes hands one person's id to another when they
cross, and the folder then holds crops of one person, then of the other.

A one-track folder's crops are taken in frame order, and at each step between two consecutive
crops the tracker's own record (``track.json``, see ``switches.py``) is asked whether it may have
switched people there: it lost the track and found it again (a break between its segments), or
the box moved farther than a person walks. The crops between such steps are *pieces* the tracker
followed without a doubt. The pieces are then grouped by their looks: average linkage over their
crops (scikit-learn), joining while the crops of two groups are, on average, more alike than the
*level*. Where two consecutive pieces fall in different groups, the track is cut, and each part may
be a single crop. So a cut needs both a doubt of the tracker's and a change of look.

A tracker also slides from one person to another without losing either (their boxes overlap),
which leaves no trace but the looks: each part is then also cut where its crops form groups of
looks one after the other, each at least ``LOOKS_MIN_PART`` crops (one odd crop is not enough).

The level is the footage's (``threshold.unlike_levels``): the similarity that only 1 in 10 pairs of
people seen together in the folder's video reach, so the two sides of a cut look as unlike as 9 in
10 pairs of different people there. A video with too few people seen together has none, and the
merge threshold stands in. The parts then take part in the grouping like folders, so a part can be
merged with another folder of its person (or with another part) in the same plan. A split is
applied like a merge: journaled, backed up, undoable.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from ..core.cli import plural
from .folders import Folder
from .grouping import Appearance
from .switches import Step, steps
from .threshold import UNLIKE_RATE

# Crops each part needs where the tracker's record doubts the step (a break, a jump) and the looks change.
MIN_PART = 1
# Crops each side needs where only the looks change (no break, no jump).
LOOKS_MIN_PART = 3
PART_MARK = "~"  # names a split-off part until it gets its folder number: id_5~2
DEFAULT_FPS = 25.0  # a track whose frame rate was not recorded


@dataclass(frozen=True)
class SplitRule:
    """Which evidence may cut a track (the evaluation compares rules; the merge uses the default)."""

    breaks: bool = True  # a break of the track (lost, then found) and a change of look
    jumps: bool = True  # a move faster than a person walks and a change of look
    looks_alone: bool = True  # a change of look alone, each side at least looks_min_part crops
    min_part: int = MIN_PART
    looks_min_part: int = LOOKS_MIN_PART


DEFAULT_RULE = SplitRule()


@dataclass
class ProposedSplit:
    folder: Folder  # as it is now
    parts: list[Folder]  # in time order; the first keeps the folder's name
    similarity: float  # the highest similarity of the two sides of a cut: under the level
    reasons: list[str] = field(default_factory=list)  # why each part after the first begins

    @property
    def switch_frames(self) -> list[int]:
        """The frame where each part after the first begins."""
        return [min(part.frames[p.name] for p in part.images) for part in self.parts[1:]]


def find_splits(
    folders: Sequence[Folder],
    threshold: float,
    levels: Mapping[str, float] | None = None,
    rule: SplitRule = DEFAULT_RULE,
) -> list[ProposedSplit]:
    """The folders to split (see the module docstring): ``levels`` by camera (a folder's video), the
    merge ``threshold`` for a camera without one."""
    found = []
    for folder in folders:
        order = _time_order(folder, rule.min_part)
        if order is None:
            continue
        track = folder.appearances[0]
        fps = track.fps or DEFAULT_FPS
        frames = [folder.frames[folder.images[k].name] for k in order]
        between = steps(frames, [folder.boxes.get(folder.images[k].name) for k in order], track.segments, fps)
        vectors = folder.vectors[order]
        level = (levels or {}).get(folder.camera)
        unlike = threshold if level is None else level
        doubts = [(rule.breaks and s.broken) or (rule.jumps and s.too_fast) for s in between]
        runs = time_clusters(vectors, doubts, unlike, rule.min_part)
        cuts = {b[0]: _similarity(vectors, a, b) for a, b in itertools.pairwise(runs)}  # first crop after -> sides'
        if rule.looks_alone:
            pieces = [_looks_apart(vectors, run, unlike, rule.looks_min_part) for run in runs]
            cuts |= {b[0]: _similarity(vectors, a, b) for piece in pieces for a, b in itertools.pairwise(piece)}
            runs = [run for piece in pieces for run in piece]
        if len(runs) < 2:
            continue
        parts = [_part(folder, [order[k] for k in run], number) for number, run in enumerate(runs, 1)]
        under = (
            f"the merge threshold {unlike:.2f}"
            if level is None
            else f"{unlike:.2f}, which {1 - UNLIKE_RATE:.0%} of the pairs of people seen together in its video are"
        )
        reasons = [_reason(between[run[0] - 1], doubts[run[0] - 1], cuts[run[0]], under, fps) for run in runs[1:]]
        found.append(ProposedSplit(folder, parts, max(cuts[run[0]] for run in runs[1:]), reasons))
    return found


def time_clusters(vectors: np.ndarray, doubts: Sequence[bool], level: float, min_part: int) -> list[list[int]]:
    """The crops (unit ``vectors`` in time order) cut into runs at the steps the tracker doubts
    (``doubts[k]``: between crops k and k + 1) where the crops either side fall in different groups
    of looks (average linkage: groups stay apart while their crops' mean similarity is under
    ``level``), each run at least ``min_part`` crops (a shorter one joins its more alike neighbour).

    >>> a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    >>> time_clusters(np.stack([a, a, b, b, a]), [False, True, False, True], 0.5, 1)
    [[0, 1], [2, 3], [4]]
    >>> time_clusters(np.stack([a, b, b, b, a]), [False, False, False, True], 0.5, 1)  # no doubt at 0-1
    [[0, 1, 2, 3], [4]]
    >>> time_clusters(np.stack([a, a, b, b, a]), [False, True, False, True], 0.5, 2)
    [[0, 1], [2, 3, 4]]
    """
    n = len(vectors)
    pieces = np.concatenate([[0], np.cumsum(doubts)]).astype(int)
    if n < 2 or pieces[-1] == 0:
        return [list(range(n))]
    distance = np.clip(1.0 - vectors @ vectors.T, 1e-9, 2.0)
    distance[pieces[:, None] == pieces[None, :]] = 0.0  # the tracker followed these without a doubt
    np.fill_diagonal(distance, 0.0)
    labels = (
        AgglomerativeClustering(
            n_clusters=None, metric="precomputed", linkage="average", distance_threshold=max(1e-6, 1.0 - level)
        )
        .fit(distance)
        .labels_
    )
    return _joined(
        vectors, [list(run) for _, run in itertools.groupby(range(n), key=lambda k: labels[k])], level, min_part
    )


def _joined(vectors: np.ndarray, runs: list[list[int]], level: float, min_part: int) -> list[list[int]]:
    """Neighbouring ``runs`` joined, the most alike first, while two look alike (their crops' mean
    similarity reaches ``level``: grouping may have set them apart only for a third run's sake), then
    while one is shorter than ``min_part`` crops (with its more alike neighbour)."""
    while len(runs) > 1:
        means = [vectors[run].mean(axis=0) for run in runs]
        similarities = [float(a @ b) for a, b in itertools.pairwise(means)]
        k = int(np.argmax(similarities))
        if similarities[k] < level:
            small = min(range(len(runs)), key=lambda r: len(runs[r]))
            if len(runs[small]) >= min_part:
                break
            sides = [r for r in (small - 1, small) if 0 <= r < len(similarities)]
            k = max(sides, key=lambda r: similarities[r])
        runs[k : k + 2] = [runs[k] + runs[k + 1]]
    return runs


def _similarity(vectors: np.ndarray, a: list[int], b: list[int]) -> float:
    """The mean similarity of the crops of ``a`` with those of ``b``."""
    return float(vectors[a].mean(axis=0) @ vectors[b].mean(axis=0))


def _looks_apart(vectors: np.ndarray, run: list[int], level: float, min_part: int) -> list[list[int]]:
    """``run`` cut where its crops form groups of looks one after the other, each ``min_part`` crops
    or more: the tracker slid from one person to another without losing either."""
    if len(run) < 2 * min_part:
        return [run]
    pieces = time_clusters(vectors[run], [True] * (len(run) - 1), level, min_part)
    return [[run[k] for k in piece] for piece in pieces]


def _reason(step: Step, doubted: bool, similarity: float, under: str, fps: float) -> str:
    looks = f"looks unlike before (similarity {similarity:.2f}, under {under})"
    if doubted:
        return f"{step.describe(fps)}, and {looks}"
    return f"{looks}, though the tracker followed it from frame {step.start} to {step.end}"


def _time_order(folder: Folder, min_part: int) -> list[int] | None:
    """Indices of the folder's crop vectors in frame order; None when it cannot be split (merged
    folders, crops without frames, too few crops)."""
    if folder.vectors is None or len(folder.appearances) != 1 or len(folder.vectors) < max(2, 2 * min_part):
        return None
    if len(folder.vectors) != len(folder.images) or any(p.name not in folder.frames for p in folder.images):
        return None
    return sorted(range(len(folder.images)), key=lambda k: folder.frames[folder.images[k].name])


def _part(folder: Folder, rows: list[int], number: int) -> Folder:
    """A part of ``folder`` as a folder of its own (the first part keeps the name). Its track spans
    its own crops, from the first one's box to the last one's: the track's own ends may show the
    other person. A crop without a recorded box leaves that end unknown (no motion evidence)."""
    images = [folder.images[k] for k in rows]  # in frame order
    frames = {p.name: folder.frames[p.name] for p in images}
    boxes = {p.name: folder.boxes[p.name] for p in images if p.name in folder.boxes}
    vectors = folder.vectors[rows]
    track = folder.appearances[0]
    low, high = min(frames.values()), max(frames.values())
    segments = tuple((max(a, low), min(b, high)) for a, b in track.segments if b >= low and a <= high)
    appearance: Appearance = replace(
        track,
        segments=segments or ((low, high),),
        first_box=boxes.get(images[0].name),
        last_box=boxes.get(images[-1].name),
    )
    name = folder.name if number == 1 else f"{folder.name}{PART_MARK}{number}"
    return Folder(name, folder.path, images, [appearance], vectors.mean(axis=0), vectors, folder.camera, frames, boxes)


def apply_splits(folders: Sequence[Folder], splits: Sequence[ProposedSplit]) -> list[Folder]:
    """The folders with each split folder replaced by its parts."""
    by_name = {s.folder.name: s for s in splits}
    result = []
    for folder in folders:
        result += by_name[folder.name].parts if folder.name in by_name else [folder]
    return result


def is_part(name: str) -> bool:
    return PART_MARK in name


def part_files(part: Folder) -> list[str]:
    return [Path(p).name for p in part.images]


def describe(split: ProposedSplit) -> str:
    """The split in the plan's words: where the track changes person, and why."""
    parts = "; ".join(
        f"a new folder takes {plural(len(part.images), 'crop')} from frame {start} ({reason})"
        for part, start, reason in zip(split.parts[1:], split.switch_frames, split.reasons, strict=True)
    )
    first = len(split.parts[0].images)
    return (
        f"{split.folder.name} changes person {plural(len(split.parts) - 1, 'time')}: it keeps its first "
        f"{'crop' if first == 1 else plural(first, 'crop')}; {parts}"
    )
