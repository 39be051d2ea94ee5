"""Where a track may have been handed from one person to another: what the tracker's own record
says happened between two consecutive crops of one track (pure functions).

A tracker hands an id over where two people cross: it loses the person behind the other and
re-finds "them" on the wrong one, or its box slides from one to the other. So a switch may leave
traces in ``track.json``: a *break* between two crops (a gap between the track's segments: lost,
then found again), boxes that *jump* farther than anyone walks in the time between them
(``motion.py``'s speed limits, in body heights per second, between the feet), or a box that
*resizes* (much taller or shorter than the one before: the other person is nearer the camera).
None proves a switch (a track breaks behind a pillar and the person walks on), so the splitter
asks the crops' looks as well (``splitting.py``); this module only says what happened at each step.

On TUD, Venice and Terrace, breaks were at 21 of the 73 steps where the crops change person and at
86 of the 1687 others; resizes at 11 and 31; jumps at none of either (people who cross are close).
A change of speed told them apart too little to use (Terrace: a median change of 0.23 body heights
a second at a switch, 0.15 elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .motion import JITTER, WALK_SPEED, feet_distance

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels

# A box 1.2 times taller or shorter than the one of the crop before. Where the two crops show one
# person, about 2% of the steps on TUD and Terrace change so much, none on Venice; where they show
# two, 11 of 73. People who cross stand close, so their boxes rarely jump, but one is nearer the camera.
RESIZE = 1.2


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
    growth: float | None = None  # the later box's height over the earlier's (None: a crop has no box)

    @property
    def broken(self) -> bool:
        return self.lost is not None

    @property
    def too_fast(self) -> bool:
        """Farther than a person walks in the time (with the jitter of boxes at occlusions)."""
        return self.heights is not None and self.heights > JITTER + WALK_SPEED * self.seconds

    @property
    def resized(self) -> bool:
        """The box's height changed more than a person's does between two crops (``RESIZE``)."""
        return self.growth is not None and abs(math.log(self.growth)) > math.log(RESIZE)

    def describe(self, fps: float) -> str:
        """In the user's words, e.g. 'lost at frame 812 and found 0.4 s later; its crops either side
        are 3.1 body heights apart'.

        >>> Step(800, 830, 812, 822, 1.1, 1.2, 0.7).describe(25.0)
        'lost at frame 812 and found 0.4 s later; its crops either side are 1.1 body heights apart; its box shrank 30%'
        """
        if self.lost is not None and self.found is not None:
            said = [f"lost at frame {self.lost} and found {(self.found - self.lost) / fps:.1f} s later"]
        else:
            said = [f"followed from frame {self.start} to {self.end} ({self.seconds:.1f} s)"]
        if self.heights is not None:
            fast = ", farther than a person walks" if self.too_fast else ""
            said.append(f"its crops either side are {self.heights:.1f} body heights apart{fast}")
        if self.resized and self.growth is not None:
            said.append(
                f"its box grew {self.growth - 1:.0%}" if self.growth > 1 else f"its box shrank {1 - self.growth:.0%}"
            )
        return "; ".join(said)


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
    >>> first, then = jump.describe(10.0).split("; ")
    >>> first
    'lost at frame 12 and found 0.6 s later'
    >>> then
    'its crops either side are 2.4 body heights apart, farther than a person walks'
    """
    found = []
    for k in range(len(frames) - 1):
        start, end = frames[k], frames[k + 1]
        gaps = breaks(segments, start, end)
        lost, back = max(gaps, key=lambda g: g[1] - g[0]) if gaps else (None, None)
        a, b = boxes[k], boxes[k + 1]
        heights = None if a is None or b is None else feet_distance(a, b)
        growth = None if a is None or b is None else round((b[3] - b[1]) / max(a[3] - a[1], 1.0), 3)
        found.append(Step(start, end, lost, back, heights, round((end - start) / fps, 3), growth))
    return found
