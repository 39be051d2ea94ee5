"""Clustering metrics against cases computed by hand."""

from __future__ import annotations

import pytest

from reid.evaluation.scores import bcubed_scores, labels_from_groups, pairwise_scores, score

# Five folders: A A A B B. Predicted groups {0,1} {2,3} {4}.
TRUTH = ["A", "A", "A", "B", "B"]
PRED = [0, 0, 1, 1, 2]


def test_pairwise_by_hand():
    # merged pairs: (0,1) right, (2,3) wrong -> precision 1/2
    # true pairs: (0,1) (0,2) (1,2) (3,4) -> 1 of 4 found
    assert pairwise_scores(TRUTH, PRED) == (0.5, 0.25)


def test_bcubed_by_hand():
    # precision per item: 0: 1/1... item0 group {0,1} both A -> 1; item1 -> 1; item2 group {2,3}: A share 1/2;
    # item3: B share 1/2; item4 alone -> 1. Mean (1+1+.5+.5+1)/5 = 0.8
    # recall per item: item0: A's in its group 2 of 3; item1 2/3; item2 1/3; item3 1/2; item4 1/2
    precision, recall = bcubed_scores(TRUTH, PRED)
    assert precision == pytest.approx(0.8)
    assert recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 / 2 + 1 / 2) / 5)


def test_perfect_and_degenerate_clusterings():
    assert score(TRUTH, ["x", "x", "x", "y", "y"]) == score(TRUTH, TRUTH)
    perfect = score(TRUTH, TRUTH)
    assert (perfect.pairwise_precision, perfect.pairwise_recall, perfect.bcubed_f1) == (1.0, 1.0, 1.0)
    alone = score(TRUTH, [0, 1, 2, 3, 4])  # nothing merged: nothing wrong, nothing found
    assert (alone.pairwise_precision, alone.pairwise_recall) == (1.0, 0.0)
    assert (alone.bcubed_precision, alone.bcubed_recall) == (1.0, pytest.approx((1 / 3 * 3 + 1 / 2 * 2) / 5))
    together = score(TRUTH, [0] * 5)  # everything merged
    assert together.pairwise_precision == pytest.approx(4 / 10) and together.pairwise_recall == 1.0
    assert together.bcubed_precision == pytest.approx((3 * 3 / 5 + 2 * 2 / 5) / 5)


def test_bcubed_f1():
    s = score(TRUTH, PRED)
    p, r = s.bcubed_precision, s.bcubed_recall
    assert s.bcubed_f1 == pytest.approx(2 * p * r / (p + r))


def test_labels_from_groups_and_errors():
    assert labels_from_groups(5, [[0, 1], [2, 3]]) == [0, 0, 2, 2, 4]
    assert score(TRUTH, labels_from_groups(5, [[0, 1], [2, 3]])) == score(TRUTH, PRED)
    with pytest.raises(ValueError):
        pairwise_scores(["a"], [1, 2])
    assert bcubed_scores([], []) == (1.0, 1.0)
