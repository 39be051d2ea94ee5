"""The threshold the footage chooses: from the folders of one video seen in the same frames (two
people, certainly), at most 1% of which may reach it; the default with too few such pairs;
--threshold over both."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.core.config import MatchingConfig
from reid.matching.decision import decide, plan_lines, threshold_choice
from reid.matching.embedding import set_vectors
from reid.matching.folders import Folder
from reid.matching.grouping import Appearance, normalize_rows
from reid.matching.threshold import MIN_PAIRS, camera_threshold, choose_threshold


def crowd(video: str, people: int, rng: np.random.Generator, spread: float = 1.0) -> list[Folder]:
    """``people`` folders of one video, all visible in frames 0-100 (so every pair is two people)."""
    found = []
    for n in range(people):
        track = Appearance("run", video, ((0, 100),))
        folder = Folder(f"id_{n + 1}", Path(video), [Path(f"{n}-{k}.jpg") for k in range(4)], [track], camera=video)
        person = rng.normal(size=16)
        set_vectors(folder, normalize_rows(person + spread * rng.normal(size=(4, 16))).astype(np.float32))
        found.append(folder)
    return found


def test_at_most_the_rate_of_pairs_reach_the_chosen_threshold():
    rng = np.random.default_rng(1)
    similarities = rng.normal(0.1, 0.1, 2000)
    value = camera_threshold(similarities, rate=0.01)
    assert np.mean(similarities >= value) <= 0.01
    assert np.mean(similarities >= value - 0.02) > 0.01  # and it is the lowest such


def test_the_highest_cameras_threshold_is_taken_and_said():
    rng = np.random.default_rng(2)
    choice = choose_threshold(
        {"/v/a.mp4": rng.normal(0.0, 0.05, 300), "/v/b.mp4": rng.normal(0.3, 0.05, 300)}, 0.45, "the default"
    )
    assert choice.value == max(choice.cameras.values()) == choice.cameras["/v/b.mp4"]
    assert choice.from_footage and "300 pairs of people seen together in /v/b.mp4" in choice.basis


def test_too_few_pairs_keep_the_default():
    choice = choose_threshold({"a.mp4": np.zeros(MIN_PAIRS - 1)}, 0.45, "reid-0287's default")
    assert choice.value == 0.45 and not choice.from_footage and "29 pairs; 30 needed" in choice.basis


def test_a_video_with_a_crowd_chooses_its_own_threshold_and_the_plan_says_so():
    rng = np.random.default_rng(3)
    folders = crowd("/v/square.mp4", 12, rng)  # 66 pairs seen together
    config = MatchingConfig(backbone="reid-0287")
    decision = decide(folders, config)
    assert decision.choice is not None and decision.choice.from_footage
    assert decision.threshold == decision.choice.value != config.threshold_for(decision.normalisation.applied)
    assert any(
        line.startswith("Threshold: chosen from 66 pairs of people seen together in")
        for line in plan_lines(decision, "reid-0287")
    )


def test_a_threshold_given_with_the_flag_is_used_as_given():
    rng = np.random.default_rng(4)
    choice = threshold_choice(
        crowd("/v/square.mp4", 12, rng), MatchingConfig(backbone="reid-0287", threshold=0.6), False
    )
    assert choice.value == 0.6 and choice.basis == "given with --threshold"


def test_the_count_is_said_with_the_pairs_that_could_have_gone_either_way():
    """Three folders: two merged well above the threshold, the third just under it with one of them."""
    from reid.matching.uncertainty import count_range

    e = np.array([[1.0, 0.0, 0.0], [0.995, 0.1, 0.0], [0.6, 0.0, 0.8]])
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    near = float(e[0] @ e[2])  # 0.6: 0.02 under a threshold of 0.62
    sure = count_range(e, [[0, 1]], [], people=2, threshold=0.62)
    assert (sure.low, sure.high, sure.uncertain) == (2, 2, 0)
    close = count_range(e, [[0, 1]], [(0, 2, near)], people=2, threshold=0.62)
    assert (close.low, close.high, close.uncertain) == (1, 2, 1)
    assert close.describe() == "2 people; between 1 and 2: 1 pair is uncertain"
    barely = count_range(e, [[0, 1]], [], people=2, threshold=0.96)  # the merged pair only just clears it
    assert (barely.low, barely.high, barely.uncertain) == (2, 3, 1)
