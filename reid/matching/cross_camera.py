"""When folders of different cameras were in view, on one clock: evidence shown with a proposed group.

Synchronised cameras whose views overlap show one person at the same time, so two folders of two
videos seen at the same time may well be one person: simultaneity across cameras is never a veto
(``grouping.cannot_link_pairs`` only joins tracks of one video; ``ground_plane.py`` keeps apart
only folders that two cameras saw far apart at the same time). Where the videos' start times are
known (``--start-times``, ``start_times.py``), the plan says, for each pair of cameras in a group,
for how long their folders were in view together, or how far apart in time they were. It is said,
not scored: on the EPFL Terrace clips, folders of one person from the two cameras are in view
together about as often as folders of two people (15% and 14% of their pairs), and a similarity
bonus for them gained less than the same bonus for pairs never seen together (docs/accuracy.md).
Where they stood is scored: ``ground_plane.py``.

A frame ``f`` of a video of ``fps`` frames per second that started at ``start`` covers the seconds
``[start + f / fps, start + (f + 1) / fps)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import PurePath

from .folders import Folder
from .grouping import Appearance
from .proposals import ProposedGroup

Span = tuple[float, float]  # [start, end) in seconds on the common clock
Side = Mapping[str, Sequence[Span]]  # one camera's folders in a group: name -> its seconds in view


def time_spans(track: Appearance, start: float) -> list[Span]:
    """The seconds ``track`` was in view, on the clock where its video started at ``start``.

    >>> time_spans(Appearance("r", "v", ((0, 9), (20, 24)), fps=10.0), 100.0)
    [(100.0, 101.0), (102.0, 102.5)]
    """
    if not track.fps:
        return []
    return [(start + a / track.fps, start + (b + 1) / track.fps) for a, b in track.segments]


def merge_spans(spans: Sequence[Span]) -> list[Span]:
    """The union of spans, as sorted disjoint spans.

    >>> merge_spans([(3.0, 4.0), (0.0, 2.0), (1.5, 2.5)])
    [(0.0, 2.5), (3.0, 4.0)]
    """
    merged: list[Span] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def overlap_seconds(a: Sequence[Span], b: Sequence[Span]) -> float:
    """How long two sets of spans are both in view (each set's own overlaps counted once).

    >>> overlap_seconds([(0.0, 10.0)], [(4.0, 6.0), (8.0, 12.0)])
    4.0
    >>> overlap_seconds([(0.0, 1.0)], [(1.0, 2.0)])
    0.0
    """
    a, b = merge_spans(a), merge_spans(b)
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def nearest_gap(a: Sequence[Span], b: Sequence[Span]) -> tuple[float, bool]:
    """For spans that never overlap: the shortest time between one set leaving view and the other
    coming into view, and whether that is ``b`` coming after ``a``.

    >>> nearest_gap([(0.0, 10.0)], [(50.0, 60.0)]), nearest_gap([(30.0, 40.0)], [(0.0, 25.0), (47.0, 48.0)])
    ((40.0, True), (5.0, False))
    """
    gaps = [(sb - ea, True) for _, ea in a for sb, _ in b if sb >= ea]
    gaps += [(sa - eb, False) for sa, _ in a for _, eb in b if sa >= eb]
    return min(gaps, key=lambda gap: gap[0])


def camera_spans(folders: Sequence[Folder], start_times: Mapping[str, float]) -> dict[str, dict[str, list[Span]]]:
    """Per video with a start time: each folder's seconds in view in it (a folder merged before may
    be in several videos)."""
    found: dict[str, dict[str, list[Span]]] = {}
    for folder in folders:
        for track in folder.appearances:
            if track.video in start_times:
                spans = time_spans(track, start_times[track.video])
                if spans:
                    found.setdefault(track.video, {}).setdefault(folder.name, []).extend(spans)
    return found


def describe_together(video_a: str, side_a: Side, video_b: str, side_b: Side) -> str:
    """One camera's folders of a group and another camera's, and when they were in view: for how
    long together, or else the two folders that came nearest in time.

    >>> describe_together("/v/c0.mp4", {"id_3": [(0.0, 20.0)]}, "/v/c1.mp4", {"id_40": [(7.7, 30.0)]})
    'id_3 (c0.mp4) and id_40 (c1.mp4) were in view at the same time for 12.3 s'
    >>> print(describe_together("/v/a.mp4", {"id_3": [(0.0, 10.0)]}, "/v/b.mp4", {"id_40": [(50.0, 60.0)]}))
    id_3 (a.mp4) and id_40 (b.mp4) were never in view at the same time (id_40 comes into view 40.0 s after id_3 left it)
    """
    first = f"{', '.join(side_a)} ({PurePath(video_a).name})"
    second = f"{', '.join(side_b)} ({PurePath(video_b).name})"
    together = overlap_seconds(
        [s for spans in side_a.values() for s in spans], [s for spans in side_b.values() for s in spans]
    )
    if together > 0:
        return f"{first} and {second} were in view at the same time for {together:.1f} s"
    nearest = []
    for name_a, spans_a in side_a.items():
        for name_b, spans_b in side_b.items():
            gap, b_later = nearest_gap(spans_a, spans_b)
            nearest.append((gap, *((name_b, name_a) if b_later else (name_a, name_b))))
    gap, later, earlier = min(nearest)
    nearest_pair = "" if len(nearest) == 1 else "nearest: "
    return (
        f"{first} and {second} were never in view at the same time "
        f"({nearest_pair}{later} comes into view {gap:.1f} s after {earlier} left it)"
    )


def cross_camera_evidence(folders: Sequence[Folder], start_times: Mapping[str, float]) -> list[str]:
    """For a proposed group's folders: a line for each pair of its videos with start times."""
    by_video = camera_spans(folders, start_times)
    return [
        describe_together(video_a, by_video[video_a], video_b, by_video[video_b])
        for video_a, video_b in combinations(sorted(by_video), 2)
    ]


def add_cross_camera_evidence(groups: Sequence[ProposedGroup], start_times: Mapping[str, float]) -> None:
    """Add to each proposed group's evidence when its cameras' folders were in view (shown in the
    plan and on the review page)."""
    for group in groups:
        group.evidence += cross_camera_evidence(group.folders, start_times)
