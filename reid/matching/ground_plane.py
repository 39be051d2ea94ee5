"""Synchronised cameras that look at one ground: where a person stands in one view tells where they
stand in the other, so two folders of two cameras can be placed side by side in time and space.

A point of the ground seen by two cameras maps from one image to the other by a homography. It is
learned from the tracks themselves: every pair of folders of the two cameras in view at the same time
(on the clock of the videos' start times) offers its people's feet, one point a ``STEP_S`` of their
common time, and RANSAC keeps the mapping most of those points agree with: pairs of one person agree,
pairs of two people scatter. Cameras whose views do not share the ground give too few agreeing
points, and then nothing is said.

Then, for every pair of folders of the two cameras in view together for ``MIN_TOGETHER_S`` or more:

- *in one place*: the feet mapped from one camera fall within ``SAME_PLACE`` body heights of the
  other's in ``SAME_SHARE`` of their common time, and neither folder is in one place with another
  folder at that time: one person seen by two cameras, which the merge links (``linking.py``);
- *apart*: farther than ``APART`` body heights for most of their common time: two people, never
  merged (as two folders seen in the same frame of one video are not).

A mapping also fits some pairs by chance: people who walk straight lines, or stand still, let RANSAC
find one for cameras that see no common ground, or at a wrong clock. People who walk, though, are in
one place only at the right time. So the mapping is learned again with the second camera's clock a
second earlier and later, and used only where the right clock puts at least twice as many pairs in one
place (``PEAK``); the plan says what was found for each pair of cameras.

On the EPFL Terrace cameras (folders of the tracker, ground truth only to score): the homography learned
without ground truth mapped the people's feet within 0.07 body heights (median; 0.16 at the 90th
percentile), as close as one fitted on the ground truth's boxes; of the pairs of folders that each show
one person, every pair within 0.2 body heights was one person (21 of 22 such pairs), and pairs of two
people were 0.24 body heights apart at the least. At their true clocks 47 pairs were in one place,
15 with a clock a second off (with the second camera's clock 0.2 or 0.4 s off, 44 and 28 against 13:
still used; 0.6 s off, 18 against 30: not); with the second camera's clock 5 to 40 s off, or with Terrace's
camera 0 beside Venice-2 (no common ground) at four clocks, a mapping was found every time, but a clock a
second off put at least half as many pairs in one place (3 to 21 pairs), so none was used.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations

import cv2
import numpy as np

from .folders import Folder

STEP_S = 0.2  # one point per this much common time
MIN_TOGETHER_S = 2.0  # in view together at least this long, to say anything of a pair
SAME_PLACE = 0.2  # body heights (of the second camera's box)
SAME_SHARE = 0.8  # boxes are unsteady where people overlap
APART = 1.0
RANSAC_HEIGHTS = 0.1  # RANSAC's reprojection threshold, in body heights (the second camera's median box)
MIN_AGREEING = 50  # points that agree with the mapping, at least ...
MIN_PAIRS = 3  # ... from this many pairs of folders
# A mapping fits some pairs of folders by chance (people who walk straight lines, or stand still), and it
# is found again on a clock a second off. People who walk are in one place only at the right time: the
# mapping is used only when it puts at least MIN_PLACED pairs in one place, PEAK times as many as the
# best one learned on the second camera's clock CLOCK_CHECK_S earlier or later.
MIN_PLACED = 6
PEAK = 2.0
CLOCK_CHECK_S = 1.0


@dataclass(frozen=True)
class Feet:
    """A folder's feet (bottom centre of its box) and box height at ``times`` (seconds on the common clock),
    interpolated between its known boxes, only where its track was in view."""

    times: np.ndarray
    points: np.ndarray  # (n, 2)
    heights: np.ndarray


@dataclass
class GroundEvidence:
    same_place: set[tuple[int, int]]  # folder pairs (i < j) that are one person seen by two cameras
    apart: set[tuple[int, int]]  # folder pairs (i < j) that are two people
    mappings: dict[tuple[str, str], np.ndarray]  # (camera, camera) -> the homography learned, first to second
    said: list[str] = field(default_factory=list)  # for each pair of cameras, what was found, in words


def ground_evidence(folders: Sequence[Folder], start_times: Mapping[str, float]) -> GroundEvidence:
    """Pairs of folders of two cameras in one place or apart (module docstring); ``start_times``: each
    video's start (by its path as in track.json) on one clock in seconds."""
    evidence = GroundEvidence(set(), set(), {})
    feet: dict[str, list[tuple[int, Feet]]] = {}
    for index, folder in enumerate(folders):
        found = feet_of(folder, start_times)
        if found is not None:
            feet.setdefault(folder.camera, []).append((index, found))
    spans = {index: (f.times[0], f.times[-1]) for camera in feet.values() for index, f in camera}
    for first, second in combinations(sorted(feet), 2):
        names = f"{_name(first)} and {_name(second)}"
        pairs = _together(feet[first], feet[second])
        mapping = learn_mapping([(a, b) for _, a, _, b in pairs])
        placed = _placed(pairs, mapping)
        off = max(_placed_off(feet[first], feet[second], shift) for shift in (-CLOCK_CHECK_S, CLOCK_CHECK_S))
        if mapping is None or placed < MIN_PLACED or placed < PEAK * off:
            evidence.said.append(
                f"{names}: no common ground found at these start times ({placed} pairs of folders in one place, "
                f"{off} with a clock {CLOCK_CHECK_S:g} s off)"
            )
            continue
        evidence.mappings[(first, second)] = mapping
        _judge(pairs, mapping, spans, evidence)
        evidence.said.append(
            f"{names} see one ground: {placed} pairs of folders stood in one place at the same time "
            f"({off} with a clock {CLOCK_CHECK_S:g} s off)"
        )
    return evidence


def _placed(pairs: Sequence[tuple[int, np.ndarray, int, np.ndarray]], mapping: np.ndarray | None) -> int:
    """How many of ``pairs`` ``mapping`` puts in one place."""
    if mapping is None:
        return 0
    return sum(bool(np.mean(distances(mapping, a, b) <= SAME_PLACE) >= SAME_SHARE) for _, a, _, b in pairs)


def _placed_off(first: Sequence[tuple[int, Feet]], second: Sequence[tuple[int, Feet]], shift: float) -> int:
    """``_placed`` with a mapping learned again on a clock ``shift`` seconds off for the second camera."""
    moved = [(k, replace(f, times=f.times + shift)) for k, f in second]
    pairs = _together(first, moved)
    return _placed(pairs, learn_mapping([(a, b) for _, a, _, b in pairs]))


def _name(video: str) -> str:
    return video.replace("\\", "/").rsplit("/", 1)[-1]


def feet_of(folder: Folder, start_times: Mapping[str, float]) -> Feet | None:
    """``folder``'s feet on the common clock, or None (several tracks, no frame rate, no start time, <2 boxes)."""
    if len(folder.appearances) != 1:
        return None
    track = folder.appearances[0]
    start = start_times.get(track.video)
    if start is None or not track.fps:
        return None
    known = {folder.frames[n]: box for n, box in folder.boxes.items() if n in folder.frames}
    for frame, box in ((track.first, track.first_box), (track.last, track.last_box)):
        if box is not None:
            known.setdefault(frame, box)
    if len(known) < 2:
        return None
    frames = np.array(sorted(known), dtype=np.float64)
    boxes = np.array([known[int(f)] for f in frames], dtype=np.float64)
    samples = np.arange(frames[0], frames[-1] + 1e-9, STEP_S * track.fps)
    seen = np.zeros(len(samples), dtype=bool)
    for a, b in track.segments:
        seen |= (samples >= a) & (samples <= b)
    samples = samples[seen]
    if len(samples) == 0:
        return None
    feet_x = np.interp(samples, frames, (boxes[:, 0] + boxes[:, 2]) / 2)
    feet_y = np.interp(samples, frames, boxes[:, 3])
    heights = np.interp(samples, frames, boxes[:, 3] - boxes[:, 1])
    return Feet(start + samples / track.fps, np.stack([feet_x, feet_y], axis=1), heights)


def _together(
    first: Sequence[tuple[int, Feet]], second: Sequence[tuple[int, Feet]]
) -> list[tuple[int, np.ndarray, int, np.ndarray]]:
    """Pairs of folders of the two cameras in view together ``MIN_TOGETHER_S`` or more, each with its
    feet at their common times: (i, points of i, j, points and heights of j as rows x, y, height)."""
    found = []
    ordered = sorted(second, key=lambda item: item[1].times[0])
    starts = [f.times[0] for _, f in ordered]
    longest = max((f.times[-1] - f.times[0] for _, f in ordered), default=0.0)
    for i, a in first:
        # only the folders that started before a ended and ended after a started
        low, high = bisect.bisect_left(starts, a.times[0] - longest), bisect.bisect_right(starts, a.times[-1])
        for j, b in ordered[low:high]:
            if b.times[-1] < a.times[0]:
                continue
            # the sample of b nearest each sample of a, where they are within half a step
            k = np.clip(np.searchsorted(b.times, a.times), 1, len(b.times) - 1)
            k -= np.abs(b.times[k - 1] - a.times) < np.abs(b.times[k] - a.times)
            close = np.abs(b.times[k] - a.times) <= STEP_S / 2
            if close.sum() * STEP_S < MIN_TOGETHER_S:
                continue
            theirs = np.column_stack([b.points[k[close]], b.heights[k[close]]])
            found.append((i, a.points[close], j, theirs))
    return found


def learn_mapping(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
    """The homography from the first camera's feet to the second's that most points agree with, or
    None when fewer than ``MIN_AGREEING`` points of ``MIN_PAIRS`` pairs of folders do."""
    if len(pairs) < MIN_PAIRS:
        return None
    source = np.concatenate([a for a, _ in pairs])
    target = np.concatenate([b for _, b in pairs])
    if len(source) < MIN_AGREEING:
        return None
    tolerance = RANSAC_HEIGHTS * float(np.median(target[:, 2]))
    mapping, inliers = cv2.findHomography(
        source.astype(np.float64), target[:, :2].astype(np.float64), cv2.RANSAC, tolerance, maxIters=5000
    )
    if mapping is None or inliers is None or int(inliers.sum()) < MIN_AGREEING:
        return None
    owners = np.concatenate([np.full(len(a), k) for k, (a, _) in enumerate(pairs)])
    if len(np.unique(owners[inliers.ravel().astype(bool)])) < MIN_PAIRS:
        return None
    # fitted again on the pairs it puts wholly in one place: whole tracks, not the points RANSAC happened to keep
    whole = [(a, b) for a, b in pairs if np.mean(distances(mapping, a, b) <= SAME_PLACE) >= SAME_SHARE]
    if len(whole) >= MIN_PAIRS:
        source = np.concatenate([a for a, _ in whole]).astype(np.float64)
        target = np.concatenate([b[:, :2] for _, b in whole]).astype(np.float64)
        refined, _ = cv2.findHomography(source, target, 0)
        mapping = mapping if refined is None else refined
    return mapping


def distances(mapping: np.ndarray, points: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """How far the ``points`` mapped by ``mapping`` fall from ``theirs`` (rows x, y, height), in their heights."""
    mapped = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), mapping).reshape(-1, 2)
    return np.linalg.norm(mapped - theirs[:, :2], axis=1) / np.maximum(theirs[:, 2], 1.0)


def _judge(
    pairs: Sequence[tuple[int, np.ndarray, int, np.ndarray]],
    mapping: np.ndarray,
    spans: Mapping[int, tuple[float, float]],
    into: GroundEvidence,
) -> None:
    """Each pair in one place, apart, or neither; a folder in one place with two others in view at the
    same time as each other is with neither (one of them is someone else, and which is unknown)."""
    placed: dict[int, list[int]] = {}
    for i, points, j, theirs in pairs:
        away = distances(mapping, points, theirs)
        if np.mean(away <= SAME_PLACE) >= SAME_SHARE:
            placed.setdefault(i, []).append(j)
            placed.setdefault(j, []).append(i)
        elif np.median(away) > APART:
            into.apart.add((min(i, j), max(i, j)))
    clear = {k for k, others in placed.items() if not _overlapping([spans[o] for o in others])}
    into.same_place |= {(min(i, j), max(i, j)) for i in clear for j in placed[i] if j in clear}


def _overlapping(spans: Sequence[tuple[float, float]]) -> bool:
    """Whether two of ``spans`` (start, end) share a moment.

    >>> _overlapping([(0.0, 2.0), (3.0, 4.0)]), _overlapping([(0.0, 2.0), (1.0, 4.0)])
    (False, True)
    """
    ordered = sorted(spans)
    return any(b[0] <= a[1] for a, b in zip(ordered, ordered[1:], strict=False))
