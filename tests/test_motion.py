"""Where and when: continuations and impossible jumps between tracks of one video."""

from __future__ import annotations

import numpy as np
import pytest

from reid.matching.grouping import Appearance, normalize_rows
from reid.matching.linking import group_with_links, link_components
from reid.matching.motion import motion_evidence, transition


def track(first: int, last: int, start_box, end_box, video="v.mp4", run="r", fps=10.0) -> Appearance:
    return Appearance(run, video, ((first, last),), start_box, end_box, fps)


BOX = (100, 100, 140, 200)  # a person 100 px tall


def moved(box, dx: float, dy: float = 0.0):
    x1, y1, x2, y2 = box
    return (x1 + dx, y1 + dy, x2 + dx, y2 + dy)


@pytest.mark.parametrize(
    "gap_frames, dx, expected",
    [
        (5, 20, "continuation"),  # 0.5 s later, 0.2 heights away: walked on after a break
        (5, 600, "impossible"),  # 0.5 s later, 6 heights away: faster than anyone runs
        (30, 300, "neither"),  # 3 s later, 3 heights away: possible, but no clear continuation
        (5, 140, "neither"),  # 0.5 s, 1.4 heights: faster than a walk (1.5 heights/s + jitter), not a run
    ],
)
def test_transitions(gap_frames, dx, expected):
    step = transition(track(0, 10, BOX, BOX), track(10 + gap_frames, 40, moved(BOX, dx), BOX))
    assert ("continuation" if step.continuation else "impossible" if step.impossible else "neither") == expected


def test_no_transition_across_videos_runs_or_overlapping_tracks():
    a = track(0, 10, BOX, BOX)
    assert transition(a, track(15, 20, BOX, BOX, video="w.mp4")) is None
    assert transition(a, track(15, 20, BOX, BOX, run="s")) is None
    assert transition(a, track(5, 20, BOX, BOX)) is None  # seen together: the co-visibility rule covers it
    assert transition(Appearance("r", "v.mp4", ((0, 10),)), track(15, 20, BOX, BOX)) is None  # no boxes: no say


def test_evidence_between_folders():
    folders = [
        [track(0, 10, BOX, BOX)],
        [track(14, 30, moved(BOX, 10), moved(BOX, 50))],  # continues folder 0
        [track(13, 20, moved(BOX, 900), BOX)],  # appears 9 heights away 0.3 s after folder 0 ended
        [track(200, 220, BOX, BOX)],  # long after: no evidence either way
    ]
    evidence = motion_evidence(folders)
    assert set(evidence.continuations) == {(0, 1)}
    assert evidence.vetoes == {(0, 2)}


def test_a_continuation_links_with_less_appearance_evidence_and_never_across_a_veto():
    e = normalize_rows(np.array([[1.0, 0.0, 0.0], [0.93, 0.37, 0.0], [0.0, 0.0, 1.0]]))  # 0 and 1: 0.93
    assert group_with_links(e, [1, 1, 1], 0.95, set(), {}) == []  # appearance alone: not enough
    assert group_with_links(e, [1, 1, 1], 0.95, set(), {(0, 1): "continues"}) == [[0, 1]]
    assert group_with_links(e, [1, 1, 1], 0.95, {(0, 1)}, {(0, 1): "continues"}) == []
    assert link_components(e, [(0, 1)], 0.99) == [[0], [1], [2]]  # too unlike even for a continuation
    # the bonus decides how much less appearance evidence a continuation needs (0.93 < 0.95 - 0.01)
    assert group_with_links(e, [1, 1, 1], 0.95, set(), {(0, 1): "continues"}, link_bonus=0.01) == []
