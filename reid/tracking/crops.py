"""Which crops of a track are worth keeping: pure logic, no I/O.

Two decisions are made here, and neither decides whether a person exists (every confirmed
track gets a folder): they decide which crops describe it best.

* ``crop_rejection`` says why a box makes a poor crop: too small to describe a person, or
  cut off by the frame border (half a person matches nobody well). Poor crops are kept in
  reserve, and saved (marked as such) only for tracks that never give a good one.
  ``reserve_score`` ranks them: bigger first, then more confident.
* ``TrackSampler`` chooses, while the video streams, at most ``max_crops`` crops per
  track spread over the track's whole life. It keeps the best crop of each time window;
  when more than ``max_crops`` have been kept it drops every other one and doubles the
  window, so a long track ends with evenly spaced crops, not its first frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def crop_rejection(
    box: Sequence[float],
    frame_width: int,
    frame_height: int,
    *,
    min_width: int,
    min_height: int,
    edge_margin: int,
    keep_edge_crops: bool,
) -> str | None:
    """Why the box ``(x1, y1, x2, y2)`` makes a useless crop, or None when it is fine."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    if width < min_width or height < min_height:
        return "small"
    if not keep_edge_crops and (
        x1 <= edge_margin or y1 <= edge_margin or x2 >= frame_width - edge_margin or y2 >= frame_height - edge_margin
    ):
        return "edge"
    return None


def reserve_score(box: Sequence[float], conf: float, reason: str, *, min_height: int) -> float:
    """How good a poor crop is, for choosing among poor crops: a cut-off crop of a whole-sized
    person beats a small one, and among small ones the taller wins (then the more confident).

    >>> short, taller = (0, 0, 20, 32), (0, 0, 20, 48)
    >>> reserve_score(short, 0.9, "small", min_height=64) < reserve_score(taller, 0.5, "small", min_height=64)
    True
    """
    height = box[3] - box[1]
    if reason == "small":
        return min(1.0, height / max(1, min_height)) + 0.1 * conf
    return 1.5 + 0.1 * conf


def clip_box(box: Sequence[float], frame_width: int, frame_height: int) -> tuple[int, int, int, int]:
    """Round the box to whole pixels inside the frame."""
    x1, y1, x2, y2 = box
    return (
        max(0, int(round(x1))),
        max(0, int(round(y1))),
        min(frame_width, int(round(x2))),
        min(frame_height, int(round(y2))),
    )


@dataclass
class Candidate:
    """One usable crop of a track: its frame, how good it is, and what to save (opaque here)."""

    frame: int
    score: float
    payload: Any = None


@dataclass
class SamplerActions:
    """What the caller must do after an ``offer`` or ``flush``: save these, delete those frames' crops."""

    save: list[Candidate] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)

    def extend(self, other: SamplerActions) -> None:
        self.save.extend(other.save)
        self.delete.extend(other.delete)


class TrackSampler:
    """Streaming choice of at most ``max_crops`` crops, spread evenly over one track.

    Time is cut into windows of ``window`` frames counted from the track's first
    candidate; each window contributes at most its best candidate.

    >>> s = TrackSampler(max_crops=4, window=1)
    >>> for f in range(20):
    ...     _ = s.offer(Candidate(f, 1.0))
    >>> _ = s.flush()
    >>> s.kept, s.window
    ([0, 8, 16], 8)
    """

    def __init__(self, max_crops: int, window: int) -> None:
        if max_crops < 1 or window < 1:
            raise ValueError("max_crops and window must be at least 1")
        self.max_crops = max_crops
        self.window = window
        self.kept: list[int] = []  # frames whose crops are saved, in order
        self.best: Candidate | None = None  # best candidate of the open window
        self._origin: int | None = None

    @property
    def has_pending(self) -> bool:
        return self.best is not None

    def _window_of(self, frame: int) -> int:
        return (frame - self._origin) // self.window

    def offer(self, candidate: Candidate, *, may_save: bool = True) -> SamplerActions:
        """Consider a crop. ``may_save=False`` holds the window open (e.g. while a track is too
        young to trust): the best candidate is kept and saved once saving is allowed."""
        if self._origin is None:
            self._origin = candidate.frame
        actions = SamplerActions()
        if self.best is not None and may_save and self._window_of(candidate.frame) > self._window_of(self.best.frame):
            actions = self.flush()  # may double the window
        if self.best is None:
            if self.kept and self._window_of(candidate.frame) <= self._window_of(self.kept[-1]):
                return actions  # this window already has its crop
            self.best = candidate
        elif candidate.score > self.best.score:
            self.best = candidate
        return actions

    def flush(self) -> SamplerActions:
        """Save the open window's best candidate (if any) and thin the kept crops if needed."""
        actions = SamplerActions()
        if self.best is None:
            return actions
        actions.save.append(self.best)
        self.kept.append(self.best.frame)
        self.best = None
        if len(self.kept) > self.max_crops:
            dropped = self.kept[1::2]
            self.kept = self.kept[0::2]
            self.window *= 2
            if dropped and dropped[-1] == actions.save[-1].frame:
                # the crop just chosen is among the dropped: never write it at all
                actions.save.pop()
                dropped.pop()
            actions.delete.extend(dropped)
        return actions

    def discard_pending(self) -> None:
        self.best = None
