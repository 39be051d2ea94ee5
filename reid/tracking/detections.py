"""What the detector step gives the tracks step: tracked person boxes (``Detection``), and the boxes
of the frames the detector leaves out while people move (``gate.BETWEEN``): each track found on
the detected frames at both ends, where it was at that share of the way between them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Detection:
    track_id: int
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
    conf: float


def boxes_between(before: Sequence[Any], after: Sequence[Any], share: float) -> list[Any]:
    """The tracked boxes (dataclasses with ``track_id``, ``box``, ``conf``) of the tracks in both
    ``before`` and ``after``, each ``share`` (0-1) of the way from its box before to its box after,
    with the lower of the two confidences. A track at one end only is left out: it started or ended
    between them.

    >>> before = [Detection(1, (0, 0, 10, 20), 0.9), Detection(2, (5, 5, 6, 6), 0.5)]
    >>> after = [Detection(1, (30, 0, 40, 20), 0.8)]
    >>> [(b.track_id, b.box, b.conf) for b in boxes_between(before, after, 1 / 3)]
    [(1, (10.0, 0.0, 20.0, 20.0), 0.8)]
    """
    starts = {detection.track_id: detection for detection in before}
    found = []
    for end in after:
        start = starts.get(end.track_id)
        if start is None:
            continue
        box = tuple(float(a + share * (b - a)) for a, b in zip(start.box, end.box, strict=True))
        found.append(dataclasses.replace(end, box=box, conf=min(start.conf, end.conf)))
    return found
