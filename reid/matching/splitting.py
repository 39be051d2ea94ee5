"""Folders that hold two people: a tracker sometimes hands one person's id to another when they
cross, and the folder then holds crops of one person, then of the other.

The crops of a one-track folder are clustered by appearance with DBSCAN (scikit-learn; with one
sample per core point it joins crops whose similarity reaches the merge threshold, directly or
through others): one person's crops chain together, two people's do not. A folder is proposed
for a split only when the clusters are also separated in time (each a run of consecutive crops,
as an id switch makes them) and each part has at least ``MIN_PART`` crops. The parts then take
part in the grouping like folders, so a part can be merged with another folder of its person in
the same plan. A split is applied like a merge: journaled, backed up, undoable.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sklearn.cluster import DBSCAN

from ..core.cli import plural
from .folders import Folder
from .grouping import Appearance

# Crops each part needs: fewer is too little evidence that a second person is there.
MIN_PART = 3
PART_MARK = "~"  # names a split-off part until it gets its folder number: id_5~2


@dataclass
class ProposedSplit:
    folder: Folder  # as it is now
    parts: list[Folder]  # in time order; the first keeps the folder's name
    similarity: float  # the mean similarity between consecutive parts: under the threshold

    @property
    def switch_frames(self) -> list[int]:
        """The frame where each part after the first begins."""
        return [min(part.frames[p.name] for p in part.images) for part in self.parts[1:]]


def find_splits(folders: Sequence[Folder], threshold: float, min_part: int = MIN_PART) -> list[ProposedSplit]:
    """The folders to split (see the module docstring), given the merge threshold."""
    found = []
    for folder in folders:
        order = _time_order(folder, min_part)
        if order is None:
            continue
        labels = (
            DBSCAN(eps=max(1e-6, 1.0 - threshold), min_samples=1, metric="cosine").fit(folder.vectors[order]).labels_
        )
        runs = [list(run) for _, run in itertools.groupby(range(len(order)), key=lambda k: labels[k])]
        if len(runs) < 2 or len(runs) != len(set(labels)) or min(len(run) for run in runs) < min_part:
            continue  # one person, or clusters that interleave in time: not an id switch
        parts = [_part(folder, [order[k] for k in run], number) for number, run in enumerate(runs, 1)]
        similarity = min(float(a.embedding @ b.embedding) for a, b in itertools.pairwise(parts))
        if similarity < threshold:
            found.append(ProposedSplit(folder, parts, similarity))
    return found


def _time_order(folder: Folder, min_part: int) -> list[int] | None:
    """Indices of the folder's crop vectors in frame order; None when it cannot be split (merged
    folders, crops without frames, too few crops)."""
    if folder.vectors is None or len(folder.appearances) != 1 or len(folder.vectors) < 2 * min_part:
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
    parts = ", ".join(
        f"{plural(len(part.images), 'crop')} from frame {start}"
        for part, start in zip(split.parts[1:], split.switch_frames, strict=True)
    )
    return (
        f"{split.folder.name} holds {len(split.parts)} people: it keeps its first "
        f"{plural(len(split.parts[0].images), 'crop')}; {parts} become a new folder "
        f"(similarity between them {split.similarity:.3f})"
    )
