"""Where and when, not only how a person looks: evidence from the ends of tracks in one video.

A track that ends, and another that starts shortly after close to where the first ended, is
likely one person whose track broke (an occlusion, a missed detection): a *continuation*, which
the merge stage links with less appearance evidence than it asks of unrelated folders. A track
that starts a moment after another ended, but farther away than anyone could have walked, is
someone else: an exact *veto*, like two people seen in the same frame.

Distances are in body heights (the mean height of the two boxes), measured between the feet
(the bottom centre of the boxes), so they mean the same near the camera and far from it.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .grouping import Appearance

# Body heights per second: a walk covers about 1 (1.4 m/s at 1.7 m), a run about 3. A track that
# starts farther from another's end than this allows is another person.
MAX_SPEED = 5.0
# A person walking on after a break in the track: at most this fast, and at most this long a break.
WALK_SPEED = 1.5
LINK_GAP_S = 2.0
# Boxes at the ends of a track are the least stable ones (half occluded, or cut by the border).
JITTER = 0.5
# Vetoes only matter for short breaks: after this long, anyone can be anywhere in the frame.
VETO_GAP_S = 4.0


@dataclass(frozen=True)
class Transition:
    """From the end of one track to the start of a later one in the same video."""

    gap_s: float
    heights: float  # how far apart, in body heights

    @property
    def impossible(self) -> bool:
        return self.heights > JITTER + MAX_SPEED * self.gap_s

    @property
    def continuation(self) -> bool:
        return self.gap_s <= LINK_GAP_S and self.heights <= JITTER + WALK_SPEED * self.gap_s

    def describe(self) -> str:
        where = "where it ended" if self.heights < 0.05 else f"{self.heights:.1f} body heights away"
        return f"starts {self.gap_s:.1f} s after the other ended, {where}"


def transition(earlier: Appearance, later: Appearance) -> Transition | None:
    """The transition from ``earlier``'s end to ``later``'s start; None when they are not in one
    video of one run, overlap in time, or lack the boxes or frame rate to say.

    >>> a = Appearance("r", "v", ((0, 10),), (0, 0, 10, 40), (0, 0, 10, 40), 10.0)
    >>> b = Appearance("r", "v", ((15, 30),), (8, 0, 18, 40), (8, 0, 18, 40), 10.0)
    >>> t = transition(a, b); (t.gap_s, t.heights, t.continuation)
    (0.5, 0.2, True)
    """
    if (earlier.run_id, earlier.video) != (later.run_id, later.video) or later.first <= earlier.last:
        return None
    fps = earlier.fps or later.fps
    if not (fps and earlier.last_box and later.first_box):
        return None
    heights = feet_distance(earlier.last_box, later.first_box)
    return Transition(round((later.first - earlier.last) / fps, 3), round(heights, 3))


def feet_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """How far apart the feet (bottom centres) of boxes ``a`` and ``b`` (x1, y1, x2, y2) are, in body
    heights (the mean height of the two boxes).

    >>> feet_distance((0, 0, 10, 40), (30, 10, 40, 50))
    0.791
    """
    height = ((a[3] - a[1]) + (b[3] - b[1])) / 2
    feet = math.hypot((a[0] + a[2]) / 2 - (b[0] + b[2]) / 2, a[3] - b[3])
    return round(feet / max(height, 1.0), 3)


@dataclass
class MotionEvidence:
    vetoes: set[tuple[int, int]]  # folder pairs (i < j) that cannot be one person
    continuations: dict[tuple[int, int], Transition]  # folder pairs (i < j) one of which continues the other


def motion_evidence(appearances: Sequence[Sequence[Appearance]]) -> MotionEvidence:
    """Vetoes and continuations between folders (``appearances[i]``: folder i's tracks). Only
    tracks starting within ``VETO_GAP_S`` of another's end are compared, so long videos with
    many tracks stay fast."""
    evidence = MotionEvidence(set(), {})
    by_video: dict[tuple[str, str], list[tuple[Appearance, int]]] = defaultdict(list)
    for folder, tracks in enumerate(appearances):
        for track in tracks:
            if track.segments:
                by_video[(track.run_id, track.video)].append((track, folder))
    for tracks in by_video.values():
        tracks.sort(key=lambda item: item[0].last)
        ends = [track.last for track, _ in tracks]
        for later, folder in tracks:
            fps = later.fps or 25.0
            start = bisect.bisect_left(ends, later.first - VETO_GAP_S * fps)
            for earlier, other in tracks[start : bisect.bisect_left(ends, later.first)]:
                found = transition(earlier, later) if other != folder else None
                if found is not None:
                    _note(evidence, (min(folder, other), max(folder, other)), found)
    return evidence


def _note(evidence: MotionEvidence, pair: tuple[int, int], found: Transition) -> None:
    if found.impossible:
        evidence.vetoes.add(pair)
        evidence.continuations.pop(pair, None)
    elif found.continuation and pair not in evidence.vetoes:
        evidence.continuations.setdefault(pair, found)
