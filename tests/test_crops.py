"""Crop filtering and the streaming per-track sampler."""

from __future__ import annotations

import random

import pytest

from reid.tracking.crops import Candidate, TrackSampler, clip_box, crop_rejection

FILTER = dict(min_width=24, min_height=64, edge_margin=2, keep_edge_crops=False)


@pytest.mark.parametrize(
    "box, reason",
    [
        ((100, 50, 160, 250), None),
        ((100, 50, 120, 250), "small"),  # 20 px wide
        ((100, 50, 160, 100), "small"),  # 50 px tall
        ((0, 50, 60, 250), "edge"),  # touches the left border
        ((100, 1, 160, 250), "edge"),  # touches the top
        ((100, 50, 640, 250), "edge"),  # touches the right border of a 640-wide frame
        ((100, 50, 160, 479), "edge"),  # within 2 px of the bottom of a 480-high frame
        ((3, 3, 636, 476), None),
    ],
)
def test_crop_rejection(box, reason):
    assert crop_rejection(box, 640, 480, **FILTER) == reason


def test_edge_crops_kept_when_asked():
    assert crop_rejection((0, 0, 60, 250), 640, 480, **{**FILTER, "keep_edge_crops": True}) is None


def test_clip_box_rounds_into_the_frame():
    assert clip_box((-3.4, 10.6, 700.2, 479.9), 640, 480) == (0, 11, 640, 480)


def run_sampler(sampler: TrackSampler, frames, score=lambda f: 1.0, may_save=lambda f: True):
    """Feed frames, apply the actions like the caller does; return the set of crops on disk."""
    on_disk = set()
    saved_ever = []
    for frame in frames:
        actions = sampler.offer(Candidate(frame, score(frame)), may_save=may_save(frame))
        for c in actions.save:
            assert c.frame not in on_disk
            on_disk.add(c.frame)
            saved_ever.append(c.frame)
        for f in actions.delete:
            on_disk.remove(f)  # raises if the sampler deletes something never saved
    actions = sampler.flush()
    on_disk |= {c.frame for c in actions.save}
    on_disk -= set(actions.delete)
    return on_disk, saved_ever


@pytest.mark.parametrize("length", [1, 5, 39, 40, 41, 100, 1000, 25_000])
@pytest.mark.parametrize("max_crops", [1, 4, 40])
def test_never_more_than_max_crops_and_disk_matches_kept(length, max_crops):
    sampler = TrackSampler(max_crops=max_crops, window=5)
    on_disk, _ = run_sampler(sampler, range(length))
    assert 1 <= len(on_disk) <= max_crops
    assert on_disk == set(sampler.kept)


@pytest.mark.parametrize("length", [400, 1000, 10_000])
def test_crops_spread_over_the_whole_track(length):
    sampler = TrackSampler(max_crops=40, window=5)
    on_disk, _ = run_sampler(sampler, range(length))
    kept = sorted(on_disk)
    assert len(kept) >= 20  # thinning halves, never below half the budget
    assert kept[0] == 0
    assert kept[-1] >= length * 0.75  # the end of the track is represented, not just its start
    gaps = [b - a for a, b in zip(kept, kept[1:], strict=False)]
    assert max(gaps) <= 2 * min(gaps)  # evenly spaced


def test_each_window_keeps_its_most_confident_crop():
    sampler = TrackSampler(max_crops=100, window=10)
    scores = {f: random.Random(f).random() for f in range(100)}
    on_disk, _ = run_sampler(sampler, range(100), score=scores.get)
    expected = {max(range(w, w + 10), key=scores.get) for w in range(0, 100, 10)}
    assert on_disk == expected


def test_gaps_in_a_track_do_not_create_extra_crops():
    sampler = TrackSampler(max_crops=100, window=10)
    frames = [0, 1, 2, 50, 51, 52, 53, 200]
    on_disk, _ = run_sampler(sampler, frames)
    assert on_disk == {0, 50, 200}


def test_holding_saves_back_until_allowed_and_keeps_the_best():
    sampler = TrackSampler(max_crops=10, window=2)
    scores = {0: 0.5, 1: 0.9, 2: 0.4, 3: 0.3, 4: 0.8}
    on_disk, saved = run_sampler(sampler, range(5), score=scores.get, may_save=lambda f: f >= 4)
    assert saved[0] == 1  # the best crop seen while held was saved first
    assert on_disk == {1, 4}


def test_a_chosen_crop_that_is_dropped_at_once_is_never_written():
    sampler = TrackSampler(max_crops=3, window=1)  # 4 kept -> drop indices 1 and 3 (the newest)
    _, saved = run_sampler(sampler, range(4))
    assert 3 not in saved


def test_invalid_settings():
    with pytest.raises(ValueError):
        TrackSampler(max_crops=0, window=1)
    with pytest.raises(ValueError):
        TrackSampler(max_crops=1, window=0)
