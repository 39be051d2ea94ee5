"""How alike different people look in one video: its folders seen in the same frames (pure numpy).

Two tracks visible in one frame are two people *in that frame*, not over their whole lives: a track
that the tracker handed from one person to another may show, before the hand-over, the very person
the other track shows after it. Compared whole, such a pair looks like one person and teaches the
threshold that different people look that alike (on Terrace, 37 of the 692 pairs seen together had
the same person as most of both folders, and they made 0.49 the threshold where the pairs of two
people, as the ground truth tells them, gave 0.35). So a pair is compared on the crops each took
in the frames both were visible; a pair without a crop in them is left out.

A detector also boxes one person twice now and then (a second box on the upper body, or a box that
lingers), and the tracker makes two tracks of it. Their crops in the shared frames sit on one
another: a pair whose boxes, at the nearest crops in time, mostly overlap by ``SAME_PLACE`` or more
may be one person (``boxed_twice``). It is left out here (on Venice, three such pairs of one person
looked 0.71 alike), and it is not kept apart either: the looks decide, as for any two folders
(``proposals.Comparison``). On Venice that joined two such pairs (39 folders to 37) and no two
people; TUD and Terrace had none.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence

import numpy as np

from .folders import Box, Folder
from .grouping import Appearance

# Boxes that overlap this much (intersection over union) may be one person boxed twice.
SAME_PLACE = 0.5


def shared_frames(a: Sequence[Appearance], b: Sequence[Appearance]) -> list[tuple[int, int]]:
    """The runs of frames in which tracks of both folders were visible (same run and video).

    >>> t = lambda *segments: Appearance("r", "v.mp4", segments)
    >>> shared_frames([t((0, 10), (20, 30))], [t((5, 25))])
    [(5, 10), (20, 25)]
    """
    found = []
    for x in a:
        for y in b:
            if (x.run_id, x.video) != (y.run_id, y.video):
                continue
            for s1, e1 in x.segments:
                for s2, e2 in y.segments:
                    if max(s1, s2) <= min(e1, e2):
                        found.append((max(s1, s2), min(e1, e2)))
    return sorted(found)


class _Crops:
    """A folder's crops that have a frame, in frame order: their rows of ``folder.vectors``, frames and
    boxes as arrays, made once per folder (a folder takes part in many pairs)."""

    def __init__(self, folder: Folder) -> None:
        matched = folder.vectors is not None and len(folder.vectors) == len(folder.images)
        rows = [k for k, p in enumerate(folder.images) if matched and p.name in folder.frames]
        frames = np.array([folder.frames[folder.images[k].name] for k in rows], dtype=np.int64)
        order = np.argsort(frames, kind="stable")
        self.rows = np.array(rows, dtype=np.intp)[order]
        self.frames = frames[order]
        boxes = [folder.boxes.get(folder.images[k].name) for k in self.rows]
        self.boxed = np.array([box is not None for box in boxes], dtype=bool)
        self.boxes = np.array([box if box is not None else (0.0, 0.0, 0.0, 0.0) for box in boxes], float).reshape(-1, 4)

    def within(self, runs: Sequence[tuple[int, int]]) -> np.ndarray:
        """Positions (in frame order) of the crops taken in ``runs`` of frames."""
        inside = np.zeros(len(self.frames), dtype=bool)
        for start, end in runs:
            inside[np.searchsorted(self.frames, start, "left") : np.searchsorted(self.frames, end, "right")] = True
        return np.flatnonzero(inside)


def crops_within(folder: Folder, runs: Sequence[tuple[int, int]]) -> list[int]:
    """Rows of ``folder.vectors`` whose crops were taken in ``runs`` of frames (none when the rows
    cannot be matched to crops: an unreadable crop has no row)."""
    crops = _Crops(folder)
    return sorted(int(k) for k in crops.rows[crops.within(runs)])


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes ``x1, y1, x2, y2``.

    >>> overlap((0, 0, 10, 10), (5, 0, 15, 10))
    0.3333333333333333
    """
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_place(a: Folder, rows_a: Sequence[int], b: Folder, rows_b: Sequence[int]) -> bool:
    """Whether the crops of ``a`` (``rows_a``) mostly sit on ``b``'s nearest crop in time."""
    crops_a, crops_b = _Crops(a), _Crops(b)
    at_a = np.flatnonzero(np.isin(crops_a.rows, rows_a))
    at_b = np.flatnonzero(np.isin(crops_b.rows, rows_b))
    return _same_place(crops_a, at_a, crops_b, at_b)


def _same_place(a: _Crops, at_a: np.ndarray, b: _Crops, at_b: np.ndarray) -> bool:
    """``same_place`` on crops by their positions in frame order (``at_b`` increasing)."""
    at_a = at_a[a.boxed[at_a]]
    if len(at_a) == 0 or len(at_b) == 0:
        return False
    gap = np.abs(b.frames[at_b][None, :] - a.frames[at_a][:, None])  # at most a few dozen crops a side
    other = at_b[np.argmin(gap, axis=1)]  # the nearest in time, the earlier of two as near
    keep = b.boxed[other]
    if not keep.any():
        return False
    found = [overlap(tuple(x), tuple(y)) for x, y in zip(a.boxes[at_a[keep]], b.boxes[other[keep]], strict=True)]
    return float(np.median(found)) >= SAME_PLACE


def seen_together_similarities(folders: Sequence[Folder], pairs: Iterable[tuple[int, int]]) -> dict[str, np.ndarray]:
    """Each camera's similarities of the folders ``pairs`` (indices, seen in the same frames), each
    pair compared on its crops in the frames both were visible (the module docstring says why)."""
    crops: dict[int, _Crops] = {}
    found: dict[str, list[float]] = defaultdict(list)
    for i, j in pairs:
        a, b = folders[i], folders[j]
        if a.camera != b.camera:
            continue
        ca, cb = _crops(crops, i, a), _crops(crops, j, b)
        at_a, at_b = _shared(a, ca, b, cb)
        if len(at_a) == 0 or len(at_b) == 0 or _same_place(ca, at_a, cb, at_b):
            continue
        mean_a, mean_b = a.vectors[ca.rows[at_a]].mean(axis=0), b.vectors[cb.rows[at_b]].mean(axis=0)
        found[a.camera].append(float(mean_a @ mean_b))
    return {camera: np.array(values) for camera, values in found.items()}


def boxed_twice(folders: Sequence[Folder], pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """The ``pairs`` of folders seen together that may be one person boxed twice: their crops of the
    frames they shared sit on one another."""
    crops: dict[int, _Crops] = {}
    found = set()
    for i, j in pairs:
        ca, cb = _crops(crops, i, folders[i]), _crops(crops, j, folders[j])
        at_a, at_b = _shared(folders[i], ca, folders[j], cb)
        if len(at_a) and len(at_b) and _same_place(ca, at_a, cb, at_b):
            found.add((i, j))
    return found


def _crops(made: dict[int, _Crops], index: int, folder: Folder) -> _Crops:
    if index not in made:
        made[index] = _Crops(folder)
    return made[index]


def _shared(a: Folder, ca: _Crops, b: Folder, cb: _Crops) -> tuple[np.ndarray, np.ndarray]:
    runs = shared_frames(a.appearances, b.appearances)
    return ca.within(runs), cb.within(runs)


def pairs_compared(folders: Sequence[Folder], seen_together: Collection[tuple[int, int]]) -> dict[str, int]:
    """Each camera's pairs of folders the grouping compares: all but those ``seen_together``.

    >>> from pathlib import Path
    >>> t = Appearance("r", "v.mp4", ((0, 9),))
    >>> pairs_compared([Folder(n, Path(n), [], [t], camera="v.mp4") for n in "abc"], {(0, 1)})
    {'v.mp4': 2}
    """
    counts = Counter(f.camera for f in folders)
    apart = Counter(folders[i].camera for i, j in seen_together if folders[i].camera == folders[j].camera)
    return {camera: n * (n - 1) // 2 - apart[camera] for camera, n in counts.items()}
