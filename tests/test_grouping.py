"""Similarity, co-occurrence constraints and constrained average-linkage grouping."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reid.grouping import (
    Appearance,
    candidate_pairs,
    cannot_link_pairs,
    choose_survivor,
    cosine_similarity_matrix,
    folder_embedding,
    group_folders,
    group_similarity,
    normalize_rows,
    segments_overlap,
)


def unit(*rows) -> np.ndarray:
    return normalize_rows(np.array(rows, dtype=np.float64))


def test_folder_embedding_is_the_normalised_mean():
    e = folder_embedding(unit([1, 0], [0, 1]))
    assert np.allclose(e, [2**-0.5, 2**-0.5])
    with pytest.raises(ValueError):
        folder_embedding(np.zeros((0, 2)))


@pytest.mark.parametrize("block_bytes", [16, 4096, 1 << 30])
def test_candidate_pairs_match_the_full_matrix_whatever_the_block_size(block_bytes):
    rng = np.random.default_rng(0)
    e = normalize_rows(rng.normal(size=(57, 8)) + 1.0)
    full = cosine_similarity_matrix(e)
    expected = {(i, j) for i, j in itertools.combinations(range(57), 2) if full[i, j] >= 0.8}
    i, j, s = candidate_pairs(e, 0.8, block_bytes=block_bytes)
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == expected
    assert np.allclose(s, full[i, j], atol=1e-6)
    assert len(expected) > 20  # the case is not trivial


def test_candidate_pairs_of_nothing():
    i, j, s = candidate_pairs(np.zeros((0, 4), np.float32), 0.5)
    assert len(i) == len(j) == len(s) == 0


def track(run="r1", video="v.mp4", *segments):
    return Appearance(run, video, tuple(segments))


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([(0, 10)], [(10, 20)], True),
        ([(0, 9)], [(10, 20)], False),
        ([(0, 5), (30, 40)], [(10, 20)], False),
        ([(0, 5), (15, 40)], [(10, 20)], True),
        ([(5, 6)], [(0, 100)], True),
    ],
)
def test_segments_overlap(a, b, expected):
    assert segments_overlap(a, b) is expected
    assert segments_overlap(b, a) is expected


def test_cannot_link_only_within_one_run_and_one_video():
    appearances = [
        [track("r1", "a.mp4", (0, 50))],
        [track("r1", "a.mp4", (40, 60))],  # overlaps 0 in the same run and video
        [track("r1", "b.mp4", (0, 50))],  # another video
        [track("r2", "a.mp4", (0, 50))],  # another run of the same video: maybe the same person
        [track("r1", "a.mp4", (51, 70))],  # after 0, overlapping 1
        [],  # legacy folder without metadata
    ]
    assert cannot_link_pairs(appearances) == {(0, 1), (1, 4)}


def test_cannot_link_uses_the_exact_segments_not_the_span():
    # folder 0 leaves the frame between 20 and 80; folder 1 is visible only then
    appearances = [[track("r", "v", (0, 20), (80, 100))], [track("r", "v", (30, 70))]]
    assert cannot_link_pairs(appearances) == set()


def test_cannot_link_sweep_matches_brute_force():
    rng = np.random.default_rng(1)
    appearances = []
    for _folder in range(60):
        tracks = []
        for _ in range(rng.integers(1, 3)):
            start = int(rng.integers(0, 2000))
            tracks.append(track("r", f"v{rng.integers(0, 2)}", (start, start + int(rng.integers(1, 80)))))
        appearances.append(tracks)
    expected = {
        (i, j)
        for i, j in itertools.combinations(range(60), 2)
        if any(
            a.video == b.video and segments_overlap(a.segments, b.segments)
            for a in appearances[i]
            for b in appearances[j]
        )
    }
    assert cannot_link_pairs(appearances) == expected and len(expected) > 5


def test_exact_duplicates_are_grouped():
    e = unit([1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1])
    assert group_folders(e, 0.9) == [[0, 1]]


def test_cannot_link_prevents_even_identical_folders():
    e = unit([1, 0], [1, 0], [0, 1])
    assert group_folders(e, 0.9, {(0, 1)}) == []


def test_cannot_link_holds_through_a_chain():
    # 0~1 and 1~2 are identical, but 0 and 2 were seen together: all three can never be one group
    e = unit([1, 0], [1, 0], [1, 0])
    groups = group_folders(e, 0.9, {(0, 2)})
    assert groups == [[0, 1]]
    assert not any({0, 2} <= set(g) for g in groups)


def test_average_linkage_does_not_chain_unrelated_people():
    # a walk on the circle: neighbours are similar (cos 20deg = 0.94), the ends are not
    angles = np.radians([0, 20, 40, 60, 80])
    e = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    groups = group_folders(e, 0.9)
    for group in groups:
        assert min(cosine_similarity_matrix(e[group])[np.triu_indices(len(group), 1)]) > 0.7
    assert all(len(g) < 5 for g in groups)


def reference_average_linkage(e, threshold, cannot):
    """Straightforward O(n^3) constrained average linkage to check the fast one against."""
    clusters = [[i] for i in range(len(e))]
    sim = cosine_similarity_matrix(e).astype(np.float64)
    while True:
        best = None
        for a, b in itertools.combinations(range(len(clusters)), 2):
            if any((min(x, y), max(x, y)) in cannot for x in clusters[a] for y in clusters[b]):
                continue
            average = sim[np.ix_(clusters[a], clusters[b])].mean()
            if average >= threshold and (best is None or average > best[0]):
                best = (average, a, b)
        if best is None:
            return sorted((sorted(c) for c in clusters if len(c) > 1), key=lambda g: (-len(g), g[0]))
        _, a, b = best
        clusters[a] = clusters[a] + clusters[b]
        del clusters[b]


@pytest.mark.parametrize("seed", range(6))
def test_grouping_matches_the_reference_implementation(seed):
    rng = np.random.default_rng(seed)
    centres = normalize_rows(rng.normal(size=(5, 16)))
    e = normalize_rows(centres[rng.integers(0, 5, 30)] + 0.35 * rng.normal(size=(30, 16)))
    cannot = {(i, j) for i, j in itertools.combinations(range(30), 2) if rng.random() < 0.02}
    assert group_folders(e, 0.75, cannot) == reference_average_linkage(e, 0.75, cannot)


def test_group_similarity_and_survivor():
    e = unit([1, 0], [0.8, 0.6], [0.6, 0.8])
    low, mean = group_similarity(e, [0, 1, 2])
    assert low == pytest.approx(0.6) and mean == pytest.approx((0.8 + 0.6 + 0.96) / 3)
    assert choose_survivor([0, 1, 2], crop_counts=[5, 9, 9], ids=[1, 7, 3]) == 2  # most crops, then lowest id
