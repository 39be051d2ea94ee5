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


def crops_within(folder: Folder, runs: Sequence[tuple[int, int]]) -> list[int]:
    """Rows of ``folder.vectors`` whose crops were taken in ``runs`` of frames (none when the rows
    cannot be matched to crops: an unreadable crop has no row)."""
    if folder.vectors is None or len(folder.vectors) != len(folder.images):
        return []
    frames = [folder.frames.get(p.name) for p in folder.images]
    return [k for k, f in enumerate(frames) if f is not None and any(s <= f <= e for s, e in runs)]


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
    found = []
    for k in rows_a:
        name = a.images[k].name
        if name not in a.boxes:
            continue
        nearest = min(rows_b, key=lambda m: abs(b.frames[b.images[m].name] - a.frames[name]))
        other = b.boxes.get(b.images[nearest].name)
        if other is not None:
            found.append(overlap(a.boxes[name], other))
    return bool(found) and float(np.median(found)) >= SAME_PLACE


def seen_together_similarities(folders: Sequence[Folder], pairs: Iterable[tuple[int, int]]) -> dict[str, np.ndarray]:
    """Each camera's similarities of the folders ``pairs`` (indices, seen in the same frames), each
    pair compared on its crops in the frames both were visible (the module docstring says why)."""
    found: dict[str, list[float]] = defaultdict(list)
    for i, j in pairs:
        a, b = folders[i], folders[j]
        if a.camera != b.camera:
            continue
        rows_a, rows_b = _shared_crops(a, b)
        if not rows_a or not rows_b or same_place(a, rows_a, b, rows_b):
            continue
        found[a.camera].append(float(a.vectors[rows_a].mean(axis=0) @ b.vectors[rows_b].mean(axis=0)))
    return {camera: np.array(values) for camera, values in found.items()}


def boxed_twice(a: Folder, b: Folder) -> bool:
    """Whether two folders seen together may be one person boxed twice: their crops of the frames they
    shared sit on one another."""
    rows_a, rows_b = _shared_crops(a, b)
    return bool(rows_a and rows_b) and same_place(a, rows_a, b, rows_b)


def _shared_crops(a: Folder, b: Folder) -> tuple[list[int], list[int]]:
    runs = shared_frames(a.appearances, b.appearances)
    return crops_within(a, runs), crops_within(b, runs)


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
