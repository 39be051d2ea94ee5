"""Where a track may have been handed from one person to another: what the tracker's own record
says happened between two consecutive crops of one track (pure functions).

A tracker hands an id over where two people cross: it loses the person behind the other and
re-finds "them" on the wrong one, or its box slides from one to the other. So a switch may leave
traces in ``track.json``: a *break* between two crops (a gap between the track's segments: lost,
then found again), or boxes that *jump* farther than anyone walks in the time between them
(``motion.py``'s speed limits, in body heights per second, between the feet). Neither proves a
switch (a track breaks behind a pillar and the person walks on), so the splitter asks the crops'
looks as well (``splitting.py``); this module only says what happened at each step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .motion import JITTER, WALK_SPEED, feet_distance

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels


@dataclass(frozen=True)
class Step:
    """Between two consecutive crops of a track (frames ``start`` < ``end``): the longest break of
    the track between them, if any, and how far the person moved from one crop to the other."""

    start: int
    end: int
    lost: int | None = None  # the last frame seen before the break (None: seen in every frame)
    found: int | None = None  # the first frame seen again
    heights: float | None = None  # how far the feet moved, in body heights (None: a crop has no box)
    seconds: float = 0.0  # between the two crops

    @property
    def broken(self) -> bool:
        return self.lost is not None

    @property
    def too_fast(self) -> bool:
        """Farther than a person walks in the time (with the jitter of boxes at occlusions)."""
        return self.heights is not None and self.heights > JITTER + WALK_SPEED * self.seconds

    def describe(self, fps: float) -> str:
        """In the user's words, e.g. 'lost at frame 812 and found 0.4 s later; its crops either side
        are 3.1 body heights apart'."""
        apart = "" if self.heights is None else f"; its crops either side are {self.heights:.1f} body heights apart"
        if self.lost is not None and self.found is not None:
            return f"lost at frame {self.lost} and found {(self.found - self.lost) / fps:.1f} s later{apart}"
        if self.too_fast:
            return f"its box jumped {self.heights:.1f} body heights in {self.seconds:.1f} s after frame {self.start}"
        return f"seen in every frame from {self.start} to {self.end}{apart}"


def breaks(segments: Sequence[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The breaks of a track (last frame seen, first frame seen again) between frames ``start`` and ``end``.

    >>> breaks(((0, 10), (15, 20), (30, 40)), 5, 35)
    [(10, 15), (20, 30)]
    >>> breaks(((0, 10), (15, 20)), 11, 14), breaks(((0, 10), (15, 20)), 15, 20)
    ([(10, 15)], [])
    """
    ordered = sorted(segments)
    return [
        (a[1], b[0])
        for a, b in zip(ordered, ordered[1:], strict=False)
        if a[1] < end and b[0] > start and b[0] > a[1] + 1
    ]


def steps(
    frames: Sequence[int], boxes: Sequence[Box | None], segments: Sequence[tuple[int, int]], fps: float
) -> list[Step]:
    """What happened between each two consecutive crops (``frames`` increasing, ``boxes`` the crops'
    own or None) of a track seen in ``segments`` at ``fps`` frames a second.

    >>> box = lambda x: (x, 0.0, x + 20.0, 100.0)  # a person 100 px tall whose box starts at x
    >>> walk, jump = steps([0, 10, 20], [box(0), box(10), box(250)], ((0, 12), (18, 20)), 10.0)
    >>> (walk.broken, walk.too_fast), (jump.lost, jump.found, jump.heights, jump.seconds, jump.too_fast)
    ((False, False), (12, 18, 2.4, 1.0, True))
    >>> jump.describe(10.0)
    'lost at frame 12 and found 0.6 s later; its crops either side are 2.4 body heights apart'
    """
    found = []
    for k in range(len(frames) - 1):
        start, end = frames[k], frames[k + 1]
        gaps = breaks(segments, start, end)
        lost, back = max(gaps, key=lambda g: g[1] - g[0]) if gaps else (None, None)
        a, b = boxes[k], boxes[k + 1]
        heights = None if a is None or b is None else feet_distance(a, b)
        found.append(Step(start, end, lost, back, heights, round((end - start) / fps, 3)))
    return found
