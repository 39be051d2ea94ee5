"""The threshold the footage chooses: from the folders of one video seen in the same frames (two
people, certainly), compared on their crops of those frames, where 0.1 of the pairs a camera compares
are expected to be two people over it; the default with too few such pairs; --threshold over both."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.core.config import MatchingConfig
from reid.matching.decision import decide, plan_lines, threshold_choice
from reid.matching.embedding import set_vectors
from reid.matching.folders import Folder
from reid.matching.grouping import Appearance, normalize_rows
from reid.matching.proposals import Comparison
from reid.matching.seen_together import pairs_compared, seen_together_similarities
from reid.matching.threshold import EXPECTED_WRONG, MIN_PAIRS, camera_threshold, choose_threshold


def crowd(video: str, people: int, rng: np.random.Generator, spread: float = 1.0) -> list[Folder]:
    """``people`` folders of one video, all visible in frames 0-100 (so every pair is two people)."""
    found = []
    for n in range(people):
        track = Appearance("run", video, ((0, 100),))
        images = [Path(f"{n}-{k}.jpg") for k in range(4)]
        folder = Folder(f"id_{n + 1}", Path(video), images, [track], camera=video)
        folder.frames = {p.name: 25 * k for k, p in enumerate(images)}
        person = rng.normal(size=16)
        set_vectors(folder, normalize_rows(person + spread * rng.normal(size=(4, 16))).astype(np.float32))
        found.append(folder)
    return found


def test_the_pairs_a_camera_compares_expect_so_few_of_two_people_over_its_threshold():
    rng = np.random.default_rng(1)
    seen = rng.normal(0.1, 0.1, 50_000)  # pairs of two people seen together: enough to know their spread
    compared = 10_000
    value = camera_threshold(seen, compared)
    trials = 200  # as many cameras, each comparing 10,000 pairs of two people alike as those seen together
    over = int(np.sum(rng.normal(0.1, 0.1, trials * compared) >= value))
    assert 0.4 * EXPECTED_WRONG * trials <= over <= 2.0 * EXPECTED_WRONG * trials
    assert value > np.max(seen[:400])  # beyond what a few hundred pairs show
    assert camera_threshold(seen, 100 * compared) > value  # more pairs compared, a higher bar


def folder_of(name: str, frames: range, vectors: np.ndarray, box: tuple[float, float, float, float]) -> Folder:
    images = [Path(f"{name}-{f}.jpg") for f in frames]
    folder = Folder(name, Path(name), images, [Appearance("run", "v.mp4", ((frames[0], frames[-1]),))], camera="v.mp4")
    folder.frames = {p.name: f for p, f in zip(images, frames, strict=True)}
    folder.boxes = {p.name: box for p in images}
    set_vectors(folder, vectors.astype(np.float32))
    return folder


def test_folders_seen_together_are_compared_on_their_crops_of_the_frames_they_share():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    # the tracker handed track 1 from person A to person B at frame 50; track 2 was B until then
    handed = folder_of("id_1", range(0, 100, 10), np.stack([a] * 5 + [b] * 5), (0, 0, 20, 60))
    person_b = folder_of("id_2", range(0, 50, 10), np.stack([b] * 5), (100, 0, 120, 60))
    whole = float(handed.embedding @ person_b.embedding)
    seen = seen_together_similarities([handed, person_b], [(0, 1)])
    assert whole == 0.5 and seen["v.mp4"].tolist() == [0.0]  # A beside B, not half of B beside B
    boxed_twice = folder_of("id_3", range(0, 50, 10), np.stack([a] * 5), (1, 0, 21, 60))  # on id_1's box
    assert seen_together_similarities([handed, boxed_twice], [(0, 1)]) == {}  # perhaps one person: left out
    assert pairs_compared([handed, person_b, boxed_twice], {(0, 1), (0, 2)}) == {"v.mp4": 1}
    # and not kept apart: the looks decide; two boxes apart in one frame are two people, whatever the looks
    assert Comparison([handed, person_b, boxed_twice]).seen_together == {(0, 1), (1, 2)}


def test_the_highest_cameras_threshold_is_taken_and_said():
    rng = np.random.default_rng(2)
    choice = choose_threshold(
        {"/v/a.mp4": rng.normal(0.0, 0.05, 300), "/v/b.mp4": rng.normal(0.3, 0.05, 300)},
        0.45,
        "the default",
        {"/v/a.mp4": 5000, "/v/b.mp4": 800},
    )
    assert choice.value == max(choice.cameras.values()) == choice.cameras["/v/b.mp4"]
    said = "300 pairs of people seen together in /v/b.mp4, so that 0.1 of the 800 pairs of folders it compares"
    assert choice.from_footage and said in choice.basis


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
