"""Similarity, co-occurrence constraints and constrained average-linkage grouping."""

from __future__ import annotations

import heapq
import itertools

import numpy as np
import pytest

from reid.matching.average_linkage import group_folders
from reid.matching.grouping import (
    Appearance,
    candidate_pairs,
    cannot_link_pairs,
    choose_survivor,
    cosine_similarity_matrix,
    folder_embedding,
    group_similarity,
    normalize_rows,
    segments_overlap,
)
from reid.matching.neighbours import MAX_NEIGHBOURS, nearest_neighbour_pairs


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


def test_cannot_link_pairs_may_come_from_a_generator_but_must_name_folders():
    e = unit([1, 0], [1, 0], [0, 1])
    assert group_folders(e, 0.9, ((i, j) for i, j in [(1, 0)])) == []
    with pytest.raises(ValueError):
        group_folders(e, 0.9, {(0, 3)})


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


def reference_average_linkage(crops, threshold, cannot):
    """Straightforward O(n^3) constrained average linkage to check the fast one against: clusters of
    folders (``crops[i]``: folder i's unit crop vectors) compared by the mean over all their crop pairs."""
    sim = cosine_similarity_matrix(np.concatenate(crops)).astype(np.float64)
    ends = np.cumsum([len(c) for c in crops])
    clusters = [[i] for i in range(len(crops))]
    rows = [list(range(end - len(c), end)) for c, end in zip(crops, ends, strict=True)]  # each cluster's crops
    while True:
        best = None
        for a, b in itertools.combinations(range(len(clusters)), 2):
            if any((min(x, y), max(x, y)) in cannot for x in clusters[a] for y in clusters[b]):
                continue
            average = sim[np.ix_(rows[a], rows[b])].mean()
            if average >= threshold and (best is None or average > best[0]):
                best = (average, a, b)
        if best is None:
            return sorted((sorted(c) for c in clusters if len(c) > 1), key=lambda g: (-len(g), g[0]))
        _, a, b = best
        clusters[a], rows[a] = clusters[a] + clusters[b], rows[a] + rows[b]
        del clusters[b], rows[b]


def people(seed, folders=30, noise=0.15, most_crops=1, dim=16):
    """Folders of 5 people: each folder's unit crop vectors, their (not normalised) means, random cannot-links."""
    rng = np.random.default_rng(seed)
    centres = normalize_rows(rng.normal(size=(5, dim)))
    crops = [
        normalize_rows(centres[person] + noise * rng.normal(size=(int(rng.integers(1, most_crops + 1)), dim)))
        for person in rng.integers(0, 5, folders)
    ]
    cannot = {(i, j) for i, j in itertools.combinations(range(folders), 2) if rng.random() < 0.02}
    return crops, np.stack([c.mean(axis=0) for c in crops]), cannot


def linkage_within(means, weights, group):
    """The mean similarity over a group's pairs of crops from different folders."""
    w = np.asarray(weights, dtype=np.float64)[group]
    sim = means[group].astype(np.float64) @ means[group].T.astype(np.float64)
    products = np.outer(w, w)
    np.fill_diagonal(products, 0)
    return float((products * sim).sum() / products.sum())


def assert_valid(groups, means, weights, threshold, cannot):
    """Every join had an average >= threshold, so each group's linkage is too; no cannot-link inside."""
    for group in groups:
        assert linkage_within(means, weights, group) >= threshold - 1e-6
        assert not any(pair in cannot for pair in itertools.combinations(group, 2))
    members = [i for g in groups for i in g]
    assert len(members) == len(set(members))


@pytest.mark.parametrize("seed", range(6))
def test_grouping_matches_the_reference_implementation(seed):
    crops, e, cannot = people(seed)
    expected = reference_average_linkage(crops, 0.75, cannot)
    assert group_folders(e, 0.75, cannot) == expected
    assert len(expected) >= 5  # the case is not trivial


@pytest.mark.parametrize("seed", range(6))
def test_weighted_grouping_is_average_linkage_over_all_crop_pairs(seed):
    crops, means, cannot = people(seed, most_crops=4, noise=0.25)
    counts = [len(c) for c in crops]
    expected = reference_average_linkage(crops, 0.5, cannot)
    assert group_folders(means, 0.5, cannot, weights=counts) == expected
    assert len(expected) >= 3 and len(set(counts)) > 1  # the case is not trivial


@pytest.mark.parametrize("seed", range(4))
def test_bounded_neighbours_are_exact_when_no_folder_has_more(seed):
    crops, means, cannot = people(seed, folders=40, most_crops=3, noise=0.2)
    counts = [len(c) for c in crops]
    k = int((cosine_similarity_matrix(means) >= 0.55).sum(axis=1).max()) - 1  # the most others a folder has
    assert nearest_neighbour_pairs(means, 0.55, max_neighbours=k, block_bytes=2048).complete and 3 <= k < 30
    expected = reference_average_linkage(crops, 0.55, cannot)
    assert group_folders(means, 0.55, cannot, weights=counts, max_neighbours=k) == expected
    # one fewer: that folder loses a neighbour, so the result may differ, but it stays valid
    assert not nearest_neighbour_pairs(means, 0.55, max_neighbours=k - 1).complete
    assert_valid(group_folders(means, 0.55, cannot, weights=counts, max_neighbours=k - 1), means, counts, 0.55, cannot)


def test_without_weights_every_folder_weighs_one():
    _, e, cannot = people(7, folders=60)
    assert group_folders(e, 0.7, cannot, weights=[1.0] * 60) == group_folders(e, 0.7, cannot)
    with pytest.raises(ValueError):
        group_folders(e, 0.7, weights=[1.0] * 59)
    with pytest.raises(ValueError):
        group_folders(e, 0.7, weights=[0.0] * 60)


@pytest.mark.parametrize("seed", range(4))
def test_few_neighbours_in_a_dense_case_still_make_valid_groups(seed):
    crops, means, cannot = people(seed, folders=60, most_crops=3, noise=0.3)
    counts = [len(c) for c in crops]
    assert not nearest_neighbour_pairs(means, 0.4, max_neighbours=3).complete
    bounded = group_folders(means, 0.4, cannot, weights=counts, max_neighbours=3)
    assert_valid(bounded, means, counts, 0.4, cannot)
    assert len(bounded) >= 5
    # with room for every neighbour it is the unbounded average linkage again
    assert group_folders(means, 0.4, cannot, weights=counts, max_neighbours=60) == reference_average_linkage(
        crops, 0.4, cannot
    )


def brute_force_neighbours(e, threshold, k):
    """Each folder's k most similar others at or above the threshold (lower index first among equals)."""
    sim = cosine_similarity_matrix(e)
    pairs = set()
    for i in range(len(e)):
        others = sorted((j for j in range(len(e)) if j != i and sim[i, j] >= threshold), key=lambda j: (-sim[i, j], j))
        pairs |= {(min(i, j), max(i, j)) for j in others[:k]}
    return pairs


@pytest.mark.parametrize("block_bytes", [16, 4096, 1 << 30])
@pytest.mark.parametrize("k", [1, 3, 8, 100])
def test_nearest_neighbour_pairs_match_brute_force(block_bytes, k):
    rng = np.random.default_rng(k)
    e = normalize_rows(rng.normal(size=(57, 8)) + 1.0)
    e[40:45] = e[3]  # exact duplicates: ties
    graph = nearest_neighbour_pairs(e, 0.8, max_neighbours=k, block_bytes=block_bytes)
    assert set(zip(graph.first.tolist(), graph.second.tolist(), strict=True)) == brute_force_neighbours(e, 0.8, k)
    assert np.all(graph.first < graph.second) and np.all(np.diff(graph.first * 57 + graph.second) > 0)
    assert np.allclose(graph.similarity, cosine_similarity_matrix(e)[graph.first, graph.second], atol=1e-6)
    assert graph.complete == (k == 100)


def test_nearest_neighbour_pairs_are_the_candidate_pairs_when_complete():
    rng = np.random.default_rng(3)
    e = normalize_rows(rng.normal(size=(200, 16)) + 1.0)
    i, j, s = candidate_pairs(e, 0.75)
    graph = nearest_neighbour_pairs(e, 0.75, max_neighbours=199, block_bytes=8192)
    assert graph.complete and len(i) > 100
    assert np.array_equal(graph.first, i) and np.array_equal(graph.second, j)
    # the same dot products, computed in other blocks: BLAS may sum them in another order
    assert np.allclose(graph.similarity, s, atol=1e-6)
    empty = nearest_neighbour_pairs(np.zeros((0, 4), np.float32), 0.5)
    assert len(empty.first) == 0 and empty.complete


def test_a_dense_case_keeps_the_work_proportional_to_n_times_k(monkeypatch):
    """3,000 folders of 30 people at a low threshold: every folder has ~100 others above it."""
    rng = np.random.default_rng(0)
    n, k = 3000, MAX_NEIGHBOURS
    centres = normalize_rows(rng.normal(size=(30, 32)))
    e = normalize_rows(centres[rng.integers(0, 30, n)] + 0.1 * rng.normal(size=(n, 32))).astype(np.float32)
    cannot = {(int(i), int(j)) for i, j in zip(rng.integers(0, n // 2, 300), rng.integers(n // 2, n, 300), strict=True)}
    assert (cosine_similarity_matrix(e) >= 0.5).sum() > 50 * n  # dense: the unbounded graph is much larger
    graph = nearest_neighbour_pairs(e, 0.5)
    assert not graph.complete and len(graph.first) <= n * k
    pushes = []
    heappush = heapq.heappush
    monkeypatch.setattr(heapq, "heappush", lambda heap, item: pushes.append(1) or heappush(heap, item))
    groups = group_folders(e, 0.5, cannot)
    # one entry per join, and one each time a cluster's best partner has joined another: at most the pairs listed
    assert len(pushes) <= n * k
    assert_valid(groups, e, np.ones(n), 0.5, cannot)
    assert sum(map(len, groups)) > n // 2


def test_group_similarity_and_survivor():
    e = unit([1, 0], [0.8, 0.6], [0.6, 0.8])
    low, mean = group_similarity(e, [0, 1, 2])
    assert low == pytest.approx(0.6) and mean == pytest.approx((0.8 + 0.6 + 0.96) / 3)
    assert choose_survivor([0, 1, 2], crop_counts=[5, 9, 9], ids=[1, 7, 3]) == 2  # most crops, then lowest id
