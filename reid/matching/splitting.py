"""Folders that hold two people: a tracker sometimes hands one person's id to another when they
cross, and the folder then holds crops of one person, then of the other.

A one-track folder's crops are taken in frame order, and at each step between two consecutive
crops the tracker's own record (``track.json``, see ``switches.py``) is asked whether it may have
switched people there: it lost the track and found it again (a break between its segments), the
box moved farther than a person walks, or it became much taller or shorter. Such a step is cut
where the crops either side also look unlike (``cuts.cut_at_doubts``); each part may then be a single
crop. So a cut needs both a doubt of the tracker's and a change of look. A tracker also slides from
one person to another without losing either (their boxes overlap), which leaves no trace but the
looks: each part is also cut where its crops form groups of looks one after the other, each at least
``LOOKS_MIN_PART`` crops (``cuts.cut_by_looks``; one odd crop is not enough).

"Unlike" is the footage's own measure (``threshold.unlike_levels``): the similarity that only 1 in 20
pairs of people seen together in the folder's video reach (``seen_together.py``), so the two sides of
a cut look as unlike as 19 in 20 pairs of different people there. A video with too few people seen
together has none, and the merge threshold stands in. The parts then take part in the grouping like
folders, so a part can be merged with another folder of its person (or with another part) in the
same plan. A split is applied like a merge: journaled, backed up, undoable.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core.cli import plural
from .cuts import cut_at_doubts, cut_by_looks, mean_similarity
from .folders import Folder
from .grouping import Appearance
from .strays import Handover, by_video, stray_end
from .switches import Step, steps
from .threshold import UNLIKE_RATE

# Crops each part needs where the tracker's record doubts the step and the looks change: two. With one
# (measured on the kept runs of all three clips), more mixed folders were split (TUD 2 of 2 against 1,
# Terrace 24 of 38 against 20, Venice the same) and fewer stayed mixed after the merge (TUD 0 against 2,
# Terrace 18 against 20), but a one-crop part is rarely like enough to its person's other folders to be
# merged back, so it counts as one more person (TUD 11 folders after the merge against 10, Terrace 65
# against 64); and on the example clip it cut off the first crop of a woman entering the frame (her box
# grew 60%): 3 people where there are 2.
MIN_PART = 2
# Crops each side needs where only the looks change (no break, no jump): 2 split one more mixed
# Terrace folder than 3 but cut 2 more pure ones; TUD and Venice were the same (measured on all three).
LOOKS_MIN_PART = 3
PART_MARK = "~"  # names a split-off part until it gets its folder number: id_5~2
DEFAULT_FPS = 25.0  # a track whose frame rate was not recorded
_TIMES = {1: "once", 2: "twice"}


@dataclass(frozen=True)
class SplitRule:
    """Which evidence may cut a track (the evaluation compares rules; the merge uses the default)."""

    breaks: bool = True  # a break of the track (lost, then found) and a change of look
    jumps: bool = True  # a move faster than a person walks and a change of look
    resizes: bool = True  # a box much taller or shorter than the one before and a change of look
    looks_alone: bool = True  # a change of look alone, each side at least looks_min_part crops
    handovers: bool = True  # a first or last crop of the person beside the track goes to their folder
    min_part: int = MIN_PART
    looks_min_part: int = LOOKS_MIN_PART

    def doubts(self, step: Step) -> bool:
        """Whether the tracker's record at ``step`` allows a cut."""
        return (self.breaks and step.broken) or (self.jumps and step.too_fast) or (self.resizes and step.resized)


DEFAULT_RULE = SplitRule()


@dataclass
class ProposedSplit:
    folder: Folder  # as it is now
    parts: list[Folder]  # in time order; one keeps the folder's name (``kept``), the first unless it is handed over
    similarity: float  # the highest similarity of the two sides of a cut: under the level
    reasons: dict[str, str] = field(default_factory=dict)  # part name -> why it is cut off (but the kept part)
    owners: dict[str, str] = field(default_factory=dict)  # a part of one crop -> the folder it goes to

    @property
    def kept(self) -> Folder:
        """The part that keeps the folder's name."""
        return next(part for part in self.parts if part.name == self.folder.name)


def find_splits(
    folders: Sequence[Folder],
    threshold: float,
    levels: Mapping[str, float] | None = None,
    rule: SplitRule = DEFAULT_RULE,
) -> list[ProposedSplit]:
    """The folders to split (see the module docstring): ``levels`` by camera (a folder's video), the
    merge ``threshold`` for a camera without one. A first or last crop that shows the person whose
    track was beside it is handed to that person's folder (``strays.py``), if that folder is not split."""
    cut: dict[str, _Cuts] = {}
    for folder in folders:
        level = (levels or {}).get(folder.camera)
        found = _cuts(folder, threshold if level is None else level, level is not None, rule)
        if found is not None:
            cut[folder.name] = found
    if rule.handovers:
        for video in by_video(folders).values():
            whole = [f for f in video if f.name not in cut or len(cut[f.name].runs) < 2]
            for folder in video:
                if folder.name in cut:
                    _hand_over(folder, cut[folder.name], whole, threshold)
    return [found.proposed(folder) for folder in folders if (found := cut.get(folder.name)) and len(found.runs) > 1]


@dataclass
class _Cuts:
    """Where one folder is cut: ``runs`` of positions in ``order`` (its crops in frame order)."""

    order: list[int]
    runs: list[list[int]]
    between: list[Step]
    doubts: list[bool]
    level: float
    under: str
    fps: float
    handed: dict[int, Handover] = field(default_factory=dict)  # run number -> where its one crop goes

    def proposed(self, folder: Folder) -> ProposedSplit:
        """The split: the first run not handed over keeps the folder's name, the others are new parts."""
        vectors = folder.vectors[self.order]
        sides = [mean_similarity(vectors, a, b) for a, b in itertools.pairwise(self.runs)]
        kept = next(number for number in range(len(self.runs)) if number not in self.handed)
        names, parts, reasons = iter(range(2, len(self.runs) + 1)), [], {}
        for number, run in enumerate(self.runs):
            name = folder.name if number == kept else f"{folder.name}{PART_MARK}{next(names)}"
            parts.append(_part(folder, [self.order[k] for k in run], name))
            if number in self.handed:
                reasons[name] = self.handed[number].describe()
            elif number != kept:
                step = self.between[run[0] - 1]
                reasons[name] = _reason(step, self.doubts[run[0] - 1], sides[number - 1], self.under, self.fps)
        owners = {parts[number].name: h.owner for number, h in self.handed.items()}
        return ProposedSplit(folder, parts, max(sides), reasons, owners)


def _cuts(folder: Folder, level: float, footage: bool, rule: SplitRule) -> _Cuts | None:
    """Where ``folder`` changes person (one run when nowhere), or None when it cannot be split;
    ``footage``: whether ``level`` is the footage's (else the merge threshold)."""
    order = _time_order(folder, rule.min_part)
    if order is None:
        return None
    track = folder.appearances[0]
    fps = track.fps or DEFAULT_FPS
    frames = [folder.frames[folder.images[k].name] for k in order]
    between = steps(frames, [folder.boxes.get(folder.images[k].name) for k in order], track.segments, fps)
    vectors = folder.vectors[order]
    doubts = [rule.doubts(step) for step in between]
    runs = cut_at_doubts(vectors, doubts, level, rule.min_part)
    if rule.looks_alone:
        runs = [piece for run in runs for piece in cut_by_looks(vectors, run, level, rule.looks_min_part)]
    under = (
        f"under {level:.2f}, which only {UNLIKE_RATE:.0%} of the pairs of people seen together in its video reach"
        if footage
        else f"under the merge threshold {level:.2f}"
    )
    return _Cuts(order, runs, between, doubts, level, under, fps)


def _hand_over(folder: Folder, cuts: _Cuts, whole: Sequence[Folder], threshold: float) -> None:
    """Cut off the first crop of the first run and the last of the last where they are another's."""
    for end in (0, -1):
        run = cuts.runs[end]
        handover = stray_end(folder, [cuts.order[k] for k in run], end, cuts.level, threshold, whole)
        if handover is None:
            continue
        if end == 0:
            cuts.runs[0:1] = [[run[0]], run[1:]]
            cuts.handed = {number + 1: h for number, h in cuts.handed.items()}
            cuts.handed[0] = handover
        else:
            cuts.runs[-1:] = [run[:-1], [run[-1]]]
            cuts.handed[len(cuts.runs) - 1] = handover


def _reason(step: Step, doubted: bool, similarity: float, under: str, fps: float) -> str:
    """Why a part begins after ``step``, in the user's words."""
    looks = f"the crops after look unlike those before (similarity {similarity:.2f}, {under})"
    if doubted:
        return f"{step.describe(fps)}, and {looks}"
    return f"{looks}, though the tracker followed it from frame {step.start} to {step.end} without a break"


def _time_order(folder: Folder, min_part: int) -> list[int] | None:
    """Indices of the folder's crop vectors in frame order; None when it cannot be split (merged
    folders, crops without frames, too few crops)."""
    if folder.vectors is None or len(folder.appearances) != 1 or len(folder.vectors) < max(2, 2 * min_part):
        return None
    if len(folder.vectors) != len(folder.images) or any(p.name not in folder.frames for p in folder.images):
        return None
    return sorted(range(len(folder.images)), key=lambda k: folder.frames[folder.images[k].name])


def _part(folder: Folder, rows: list[int], name: str) -> Folder:
    """A part of ``folder`` as a folder of its own, called ``name``. Its track spans
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
    said = []
    for k, part in enumerate(split.parts):
        if part is split.kept:
            continue
        start, why = min(part.frames.values()), split.reasons[part.name]
        if part.name in split.owners:
            said.append(f"Its {'first' if k == 0 else 'last'} crop is another person's: {why}.")
        else:
            crops = f"{plural(len(part.images), 'crop')} {'becomes' if len(part.images) == 1 else 'become'}"
            said.append(f"From frame {start}, {crops} a new folder: {why}.")
    times = len(split.parts) - 1
    kept = len(split.kept.images)
    which = "first " if split.parts[0] is split.kept else ""
    return (
        f"{split.folder.name} seems to change person {_TIMES.get(times, f'{times} times')}: it keeps its "
        f"{which}{'crop' if kept == 1 else plural(kept, 'crop')}. {' '.join(said)}"
    )
