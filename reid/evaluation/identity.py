"""Which ground-truth person each person folder shows, and how well the folders cover the people.

Pure functions over MOTChallenge rows (``reid.tracking.mot.MotRow``: frames from 1, boxes as
x, y, w, h). A box shows the ground-truth (GT) person whose box in the same frame overlaps it
best, with IoU >= 0.5 (the MOTChallenge criterion); a box overlapping none shows nobody
(a false detection, or a person the GT leaves out). A folder's *majority* is the GT id most
of its boxes show and its *purity* the share of its boxes that show it: unmatched boxes count
against purity, so a folder of mostly false detections is not pure.

IDF1, MOTA and ID switches come from ``motmetrics`` (the reference implementation used by the
MOTChallenge tools), not from here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..tracking.mot import MotRow

if TYPE_CHECKING:
    import motmetrics as mm

MIN_IOU = 0.5
PURE = 0.95  # a folder at least this pure shows one person
MAJORITY = 0.5  # a folder at least this pure counts as its majority person in the merge's pair scores
MOT_METRICS = ("idf1", "mota", "num_switches", "precision", "recall", "num_objects", "num_predictions")

Box = tuple[float, float, float, float]  # x, y, w, h


def iou_distances(objects: Sequence[Box], hypotheses: Sequence[Box], min_iou: float = MIN_IOU) -> np.ndarray:
    """motmetrics' IoU distance matrix: 1 - IoU, NaN (never paired) where IoU < ``min_iou``.

    ``mm.distances.iou_matrix`` itself calls ``np.asfarray``, which NumPy 2 removed, so this
    calls its ``boxiou`` directly; the result is the same, and keeps its (N, K) shape when empty.
    """
    import motmetrics as mm

    a = np.asarray(objects, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(hypotheses, dtype=np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.empty((len(a), len(b)))
    distance = 1.0 - mm.distances.boxiou(a[:, None], b[None, :])
    return np.where(distance > 1.0 - min_iou, np.nan, distance)


def by_frame(rows: Iterable[MotRow]) -> dict[int, list[MotRow]]:
    frames: dict[int, list[MotRow]] = defaultdict(list)
    for row in rows:
        frames[row.frame].append(row)
    return dict(frames)


def by_id(rows: Iterable[MotRow]) -> dict[int, list[MotRow]]:
    ids: dict[int, list[MotRow]] = defaultdict(list)
    for row in rows:
        ids[row.id].append(row)
    return dict(ids)


def match_boxes(gt: dict[int, list[MotRow]], boxes: Sequence[tuple[int, Box]]) -> list[int | None]:
    """The GT id each ``(frame, box)`` shows (GT frame numbering), or None when no GT box of
    that frame overlaps it with IoU >= 0.5. Each box is matched on its own: a sample of crops
    is not a frame's full set of detections, so there is no one-to-one assignment to make."""
    found: list[int | None] = []
    for frame, box in boxes:
        rows = gt.get(frame, [])
        distances = iou_distances([(r.x, r.y, r.w, r.h) for r in rows], [box])[:, 0] if rows else np.empty(0)
        best = np.nanargmin(distances) if len(distances) and not np.isnan(distances).all() else None
        found.append(None if best is None else rows[int(best)].id)
    return found


@dataclass(frozen=True)
class Identity:
    """Whom a folder's boxes show: its majority GT id, how many show it, how many show nobody."""

    boxes: int
    majority: int | None
    majority_boxes: int
    unmatched: int

    @property
    def purity(self) -> float:
        return self.majority_boxes / self.boxes if self.boxes else 0.0

    @property
    def off_gt(self) -> bool:
        """Most of its boxes show no GT person: a false detection, or someone the GT leaves out
        (Venice-2's omits seated people and cyclists): its purity says little about the tracker."""
        return self.unmatched * 2 > self.boxes or not self.boxes


def identity_of(ids: Sequence[int | None]) -> Identity:
    """The majority (ties: the lowest id) and purity of a folder whose boxes show ``ids``.

    >>> identity_of([3, 3, None, 5]).majority, identity_of([3, 3, None, 5]).purity
    (3, 0.5)
    """
    counts = Counter(i for i in ids if i is not None)
    if not counts:
        return Identity(len(ids), None, 0, len(ids))
    majority = min(counts, key=lambda i: (-counts[i], i))
    return Identity(len(ids), majority, counts[majority], len(ids) - sum(counts.values()))


def visible_ids(gt: Iterable[MotRow], min_frames: float) -> set[int]:
    """GT ids annotated in at least ``min_frames`` frames (2 s of video: someone a count should catch)."""
    frames: dict[int, set[int]] = defaultdict(set)
    for row in gt:
        frames[row.id].add(row.frame)
    return {i for i, seen in frames.items() if len(seen) >= min_frames}


def coverage(targets: Collection[int], identities: Iterable[Identity]) -> float:
    """Share of ``targets`` (GT ids) that are the majority of at least one folder; NaN without targets."""
    if not targets:
        return float("nan")
    found = {i.majority for i in identities}
    return sum(t in found for t in targets) / len(targets)


def fragmentation(identities: Iterable[Identity]) -> tuple[float, int]:
    """Folders per GT id, (mean, max) over the GT ids that are some folder's majority: 1.0 means
    each person got one folder; more means people were split and would be counted twice."""
    counts = Counter(i.majority for i in identities if i.majority is not None)
    if not counts:
        return float("nan"), 0
    return sum(counts.values()) / len(counts), max(counts.values())


def share_pure(identities: Sequence[Identity], level: float = PURE) -> float:
    """Share of folders at least ``level`` pure; NaN without folders."""
    return sum(i.purity >= level for i in identities) / len(identities) if identities else float("nan")


@dataclass(frozen=True)
class CountScores:
    """The count as a user sees it: folders (or merged groups), whom they cover, how pure they are."""

    folders: int
    targets: int  # GT ids that should be counted (visible >= 2 s)
    covered: int  # of them, the majority of some folder
    pure: int  # folders at least PURE pure
    off_gt: int  # folders most of whose boxes show no GT person (false detections, or people the GT omits)
    pure_on_gt: int  # pure folders among the others
    per_id: tuple[float, int]  # fragmentation: folders per GT id, (mean, max)
    boxes: int
    unmatched: int

    @property
    def coverage(self) -> float:
        return self.covered / self.targets if self.targets else float("nan")

    @property
    def pure_share(self) -> float:
        return self.pure / self.folders if self.folders else float("nan")


def count_scores(identities: Sequence[Identity], targets: Collection[int]) -> CountScores:
    """Coverage of ``targets``, purity and fragmentation of ``identities`` in one record."""
    on_gt = [i for i in identities if not i.off_gt]
    majorities = {i.majority for i in identities}
    return CountScores(
        folders=len(identities),
        targets=len(targets),
        covered=sum(t in majorities for t in targets),
        pure=sum(i.purity >= PURE for i in identities),
        off_gt=len(identities) - len(on_gt),
        pure_on_gt=sum(i.purity >= PURE for i in on_gt),
        per_id=fragmentation(identities),
        boxes=sum(i.boxes for i in identities),
        unmatched=sum(i.unmatched for i in identities),
    )


def pair_truth(identities: Sequence[Identity]) -> list[Hashable]:
    """Labels for the merge's pairwise scores: a folder at least half of whose boxes show one GT
    person is that person; any other folder is nobody in particular (a label of its own), so
    merging it with anything is a wrong merge and leaving it alone misses nothing."""
    return [i.majority if i.purity >= MAJORITY else ("folder", n) for n, i in enumerate(identities)]


def mot_accumulator(gt: Sequence[MotRow], hypotheses: Sequence[MotRow], min_iou: float = MIN_IOU) -> mm.MOTAccumulator:
    """A ``motmetrics`` accumulator of the hypotheses against the GT, frame by frame. Every GT row
    counts: in MOT15 the confidence column is 1 on every row and columns 8-10 are world
    coordinates, so the MOT16 filter (conf >= 0.99 and class 1) does not apply."""
    import motmetrics as mm

    accumulator = mm.MOTAccumulator(auto_id=False)
    objects, hyps = by_frame(gt), by_frame(hypotheses)
    for frame in sorted(set(objects) | set(hyps)):
        o, h = objects.get(frame, []), hyps.get(frame, [])
        distances = iou_distances([(r.x, r.y, r.w, r.h) for r in o], [(r.x, r.y, r.w, r.h) for r in h], min_iou)
        accumulator.update([r.id for r in o], [r.id for r in h], distances, frameid=frame)
    return accumulator


def mot_scores(gt: Sequence[MotRow], hypotheses: Sequence[MotRow], min_iou: float = MIN_IOU) -> dict[str, float]:
    """IDF1, MOTA, ID switches, box precision and recall (and the box counts) from ``motmetrics``."""
    import motmetrics as mm

    accumulator = mot_accumulator(gt, hypotheses, min_iou)
    summary = mm.metrics.create().compute(accumulator, metrics=list(MOT_METRICS), name="video")
    return {name: float(summary[name].iloc[0]) for name in MOT_METRICS}


def tracked_share(gt: Sequence[MotRow], hypotheses: Sequence[MotRow], min_iou: float = MIN_IOU) -> dict[int, float]:
    """Per GT id, the share of its boxes that some hypothesis box covers (motmetrics' matches):
    low for a person the detector misses, whatever the identities."""
    events = mot_accumulator(gt, hypotheses, min_iou).mot_events
    objects = events[events["Type"].isin(["MATCH", "SWITCH", "MISS"])]
    hit = objects["Type"].isin(["MATCH", "SWITCH"]).groupby(objects["OId"]).mean()
    return {int(oid): float(share) for oid, share in hit.items()}


def merged_pairs(labels: Sequence[Hashable], identities: Sequence[Identity]) -> tuple[int, int]:
    """(folder pairs merged, of them pairs with an off-GT folder): the GT cannot tell whether
    those are right, so a merge of two folders of one seated person counts as wrong in
    ``pair_truth``'s precision; this says how much of the wrong share that may be.

    >>> alice, nobody = Identity(1, 1, 1, 0), Identity(1, None, 0, 1)
    >>> merged_pairs([0, 0, 0, 3], [alice, alice, nobody, alice])  # 3 pairs in group 0, 2 with nobody
    (3, 2)
    """
    everything = Counter(labels)
    on_gt = Counter(label for label, i in zip(labels, identities, strict=True) if not i.off_gt)
    total = sum(n * (n - 1) // 2 for n in everything.values())
    return total, total - sum(n * (n - 1) // 2 for n in on_gt.values())


def merged_identities(ids_per_folder: Sequence[Sequence[int | None]], labels: Sequence[Hashable]) -> list[Identity]:
    """The identity of each merged group (the folders sharing a label), from its folders' boxes pooled.

    >>> [i.majority for i in merged_identities([[1, 1], [2], [1]], [0, 1, 0])]
    [1, 2]
    """
    pooled: dict[Hashable, list[int | None]] = {}
    for ids, label in zip(ids_per_folder, labels, strict=True):
        pooled.setdefault(label, []).extend(ids)
    return [identity_of(ids) for ids in pooled.values()]
