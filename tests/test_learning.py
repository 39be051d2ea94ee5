"""Answers teach the threshold (``learning.py``), are kept with their similarity (``answers.py``), and a
reviewer who answers from the ground truth (``reviewer.py``) brings synthetic folders to one per person."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reid.core.config import MatchingConfig
from reid.evaluation.reviewer import review
from reid.matching.answers import Answers, Measured, keep_answers, load_answers, piece_keys
from reid.matching.decision import decide
from reid.matching.folders import Folder
from reid.matching.grouping import Appearance
from reid.matching.learning import TAUGHT_WRONG, Labelled, choose_learned_threshold, fit_threshold
from reid.matching.threshold import camera_threshold


def test_with_no_answers_the_footage_decides_alone():
    seen = np.random.default_rng(0).uniform(-0.3, 0.4, 200)
    assert fit_threshold(seen, [], 0.6) == camera_threshold(seen, len(seen))
    assert fit_threshold(seen[:5], [], 0.6) == 0.6  # too few pairs: the default


def test_same_person_answers_lower_it_until_a_pair_said_to_be_two_people():
    seen = np.random.default_rng(1).uniform(-0.3, 0.4, 200)
    start = camera_threshold(seen, len(seen))
    same = [Labelled(start - d, True) for d in (0.02, 0.05, 0.08)]
    assert fit_threshold(seen, same, 0.6) == pytest.approx(start - 0.08)
    blocked = [*same, Labelled(start - 0.04, False)]
    assert fit_threshold(seen, blocked, 0.6) == pytest.approx(start - 0.02)
    above = [Labelled(start + 0.1, True), Labelled(start + 0.2, False)]  # pairs over it teach nothing
    assert fit_threshold(seen, above, 0.6) == start


def test_answers_never_bring_it_below_where_the_footage_expects_one_pair_of_two_people():
    seen = np.random.default_rng(1).normal(0.0, 0.1, 200)
    floor = camera_threshold(seen, 5000, TAUGHT_WRONG)
    assert floor < camera_threshold(seen, 5000)
    far_under = [Labelled(floor - 0.2, True)]  # one pair of one person, far under: not the many pairs between
    assert fit_threshold(seen, far_under, 0.6, compared=5000) == pytest.approx(floor)
    assert fit_threshold(seen[:10], far_under, 0.6) == pytest.approx(floor - 0.2)  # no footage, no floor


def test_each_camera_learns_from_its_own_answers_and_the_plan_says_so():
    rng = np.random.default_rng(2)
    seen = {"c0.mp4": rng.normal(0.0, 0.05, 300), "c1.mp4": rng.normal(0.0, 0.1, 300)}
    a, b, c = (frozenset({("run", "c1.mp4", k, k + 9)}) for k in (0, 20, 40))
    answers = Answers(together=[(a, b), (b, c)], apart=[(a, c)])
    answers.measured = {
        (a, b): Measured(0.32, ("c1.mp4", "c1.mp4")),
        (b, c): Measured(0.30, ("c1.mp4", "c1.mp4")),
        (a, c): Measured(0.1, ("c1.mp4", "c1.mp4")),
    }
    choice = choose_learned_threshold(seen, answers, 0.6, "reid-0287's default")
    assert choice.cameras["c1.mp4"] == pytest.approx(0.30)
    assert choice.cameras["c0.mp4"] == camera_threshold(seen["c0.mp4"], 300)
    assert choice.value == max(choice.cameras.values())
    said = "0.300 for camera c1.mp4, from 3 pairs in your answers and 300 pairs of people seen together"
    assert choice.basis.startswith(said)


def folder(name: str, vectors: np.ndarray, first: int, video: str = "v.mp4") -> Folder:
    images = [Path(f"/p/{name}/f{first + k:05d}.png") for k in range(len(vectors))]
    frames = {p.name: first + k for k, p in enumerate(images)}
    appearance = Appearance("run", video, ((first, first + len(vectors) - 1),))
    vectors = vectors.astype(np.float32)
    return Folder(name, Path(name), images, [appearance], vectors.mean(axis=0), vectors, video, frames)


def test_answers_keep_their_similarity_and_old_files_still_load(tmp_path):
    x, y = np.eye(4)[:1], np.array([[0.6, 0.8, 0.0, 0.0]])
    a, b = folder("id_1", x, 0), folder("id_2", y, 100)
    said = Answers()
    said.add(a, b, same=True)
    keep_answers(tmp_path, said)
    kept = load_answers(tmp_path)
    assert kept.together == [(piece_keys(a), piece_keys(b))]
    assert kept.measured[kept.together[0]] == Measured(pytest.approx(0.6), ("v.mp4", "v.mp4"))
    old = {"schema": 1, "apart": [{"first": [["run", "v.mp4", 0, 0]], "second": [["run", "v.mp4", 100, 100]]}]}
    (tmp_path / ".answers.json").write_text(json.dumps(old))
    assert load_answers(tmp_path).apart and not load_answers(tmp_path).measured


def synthetic(noise: float, seed: int = 3) -> tuple[list[Folder], dict[Path, int]]:
    """Three people, four fragments each, one after the other in one video; their crops scatter
    around each person's direction (``noise`` 0.25: one person's fragments score about 0.2)."""
    rng = np.random.default_rng(seed)
    people = np.linalg.qr(rng.normal(size=(64, 3)))[0].T
    folders, truth = [], {}
    for n in range(12):
        person = n % 3
        vectors = people[person] + rng.normal(scale=noise, size=(6, 64))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        made = folder(f"id_{n + 1}", vectors, 100 * n)
        folders.append(made)
        truth.update({image: person for image in made.images})
    return folders, truth


def test_the_simulated_reviewer_brings_the_count_to_one_folder_per_person():
    folders, truth = synthetic(0.11)
    config = MatchingConfig(backbone="reid-0287", threshold=0.9)  # far too high: nothing merges unasked
    points = review(folders, truth, config, answers_wanted=20, every=2)
    assert all(p.threshold == 0.9 for p in points)  # --threshold overrides what the answers teach
    assert points[0].answers == 0 and points[0].folders == 12
    last = points[-1].answers  # every 2 answers, and where the questions ran out
    assert [p.answers for p in points[1:]] == list(range(2, last + 1, 2)) + ([last] if last % 2 else [])
    assert points[-1].folders == 3 and points[-1].wrong_merges == 0 and points[-1].per_person == (1.0, 1)
    assert all(p.wrong_merges == 0 for p in points)


def test_the_reviewer_teaches_the_plan_a_lower_threshold():
    folders, truth = synthetic(0.25)
    config = MatchingConfig(backbone="reid-0287")
    plan = decide([replace(f, vectors=f.vectors.copy()) for f in folders], config)
    assert not plan.proposals  # one person's fragments all score under the default
    points = review(folders, truth, config, answers_wanted=12, every=1)
    assert points[-1].threshold < plan.threshold
    assert points[-1].folders == 3 and points[-1].wrong_merges == 0


def test_making_the_plan_again_after_each_answer_learns_sooner():
    folders, truth = synthetic(0.25)
    config = MatchingConfig(backbone="reid-0287")
    points = review(folders, truth, config, answers_wanted=12, every=3, per_plan=1)
    assert points[-1].folders == 3 and all(p.wrong_merges == 0 for p in points)


def test_the_review_benchmark_needs_a_kept_run_and_takes_its_own_flags():
    from reid.evaluation.review import parse_args

    given = ["--video", "v.mp4", "--gt", "gt.txt", "--backbone", "reid-0287"]
    with pytest.raises(SystemExit, match="--tracked DIR is required"):
        parse_args(given)
    args = parse_args([*given, "--tracked", "kept", "--answers", "12", "--every", "3", "--per-plan", "1"])
    assert (args.answers, args.every, args.per_plan, str(args.tracked)) == (12, 3, 1, "kept")
