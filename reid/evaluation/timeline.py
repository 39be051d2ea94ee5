"""Several videos scored as one count: their frames laid end to end on one timeline.

Ground-truth ids are one namespace across the videos (a person has the same id in every camera,
as in EPFL Terrace), and folder ids are one namespace across the videos of one tracking run. Frame
f of video k (MOTChallenge numbering, from 1) is frame ``offset_k + f`` of the timeline, where
``offset_k`` is the number of frames tracked in the videos before it. On the timeline the rows of
all the videos are one sequence: a crop is matched to the boxes of its own video's frame, a
person's frames add up over the videos, and motmetrics' IDF1 over it is the multi-camera IDF1
(one identity per person across all cameras, as multi-camera benchmarks compute it). Identity
switches and transfers are counted in each video alone: a person seen in a second camera by
another folder is not a tracker's switch.

Pure functions over ``MotRow`` lists; motmetrics through ``identity.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from ..tracking.mot import MotRow
from . import identity as ident

MIN_VISIBLE_S = 2.0  # a person in view this long should be counted


@dataclass(frozen=True)
class Clip:
    """One tracked video and its ground truth, both in the video's own frame numbers (from 1)."""

    video: str  # as track.json names it (its absolute path)
    name: str  # as the report shows it
    fps: float
    frames: int  # frames tracked: ground truth after them is left out
    gt: tuple[MotRow, ...]
    hypotheses: tuple[MotRow, ...]  # every box of its counted tracks, ids = folder numbers

    @property
    def min_frames(self) -> int:
        """Frames of ``MIN_VISIBLE_S`` seconds."""
        return round(MIN_VISIBLE_S * self.fps)


def shifted(rows: Iterable[MotRow], offset: int) -> list[MotRow]:
    return [replace(row, frame=row.frame + offset) for row in rows] if offset else list(rows)


class Timeline:
    """The clips end to end (see the module docstring)."""

    def __init__(self, clips: Sequence[Clip]) -> None:
        if len({c.video for c in clips}) != len(clips):
            raise ValueError("a video appears twice on the timeline")
        self.clips = list(clips)
        self.offsets: dict[str, int] = {}
        offset = 0
        for clip in self.clips:
            self.offsets[clip.video] = offset
            offset += clip.frames

    def offset_of(self, video: str) -> int | None:
        """Where ``video``'s frames begin; None for a video not on the timeline."""
        return self.offsets.get(video)

    @cached_property
    def gt(self) -> list[MotRow]:
        return [row for c in self.clips for row in shifted(c.gt, self.offsets[c.video])]

    @cached_property
    def hypotheses(self) -> list[MotRow]:
        return [row for c in self.clips for row in shifted(c.hypotheses, self.offsets[c.video])]

    @cached_property
    def visible(self) -> set[int]:
        """GT ids in view for ``MIN_VISIBLE_S`` seconds in all the videos together (with one video:
        annotated in at least its ``min_frames`` frames)."""
        share: dict[int, float] = defaultdict(float)
        for clip in self.clips:
            frames: dict[int, set[int]] = defaultdict(set)
            for row in clip.gt:
                frames[row.id].add(row.frame)
            for gt_id, seen in frames.items():
                share[gt_id] += len(seen) / clip.min_frames if clip.min_frames else float("inf")
        return {gt_id for gt_id, s in share.items() if s >= 1.0}

    @property
    def gt_ids(self) -> set[int]:
        return {row.id for c in self.clips for row in c.gt}


def transfers(gt: Sequence[MotRow], hypotheses: Sequence[MotRow]) -> list[tuple[int, int]]:
    """motmetrics' transfers, ``(frame, folder id)``: a track matched to one GT person that is
    matched to another from ``frame`` on, the tracker having handed its id from one person to the
    other (an identity switch seen from the track's side, which the splitter should find)."""
    events = ident.mot_accumulator(gt, hypotheses).mot_events
    found = events[events["Type"] == "TRANSFER"]
    return [(int(frame), int(hid)) for (frame, _), hid in zip(found.index, found["HId"], strict=True)]
