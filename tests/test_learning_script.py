"""deeplearningg_reID.py --dry-run with answers kept in the persons folder: the plan's threshold is
learned from them, and the plan says so (on real crops, with the re-ID network trained for it)."""

from __future__ import annotations

import json
import shutil

import pytest
from test_matching_run import reid_0287, track_of  # noqa: F401 (a fixture)

from conftest import run_script


@pytest.mark.slow
def test_a_kept_answer_teaches_the_threshold_and_the_plan_says_so(tmp_path, labelled_crops, reid_0287):  # noqa: F811
    persons = tmp_path / "persons"
    spans = {}
    for name, pid, crops, first in (
        ("id_1", 1, sorted((labelled_crops / "022").glob("01_*.png"))[:4], 0),
        ("id_2", 2, sorted((labelled_crops / "022").glob("01_*.png"))[4:], 400),
        ("id_3", 3, sorted((labelled_crops / "003").glob("01_*.png"))[:4], 800),
    ):
        (persons / name).mkdir(parents=True)
        files = [f"hall_f{first + 10 * k:06d}.png" for k in range(len(crops))]
        for crop, file in zip(crops, files, strict=True):
            shutil.copy2(crop, persons / name / file)
        track = track_of(pid, files, first)
        (persons / name / "track.json").write_text(json.dumps(track))
        spans[name] = [["run-1", track["video"], *track["segments"][0]]]
    said = {"first": spans["id_2"], "second": spans["id_1"], "similarity": 0.05, "cameras": ["/videos/hall.mp4"] * 2}
    (persons / ".answers.json").write_text(json.dumps({"schema": 1, "together": [said]}))
    plan = run_script(
        "deeplearningg_reID.py", "--backbone", "reid-0287", "--weights", reid_0287, "--dry-run", cwd=tmp_path
    )
    assert plan.returncode == 0, plan.stderr
    said = "Threshold: 0.050 for camera /videos/hall.mp4, from 1 pair in your answers and reid-0287's default"
    assert said in plan.stdout
    assert "threshold 0.050" in plan.stdout
    assert "1 pair said to be one person" in plan.stdout
    given = run_script(
        "deeplearningg_reID.py",
        *("--backbone", "reid-0287", "--weights", reid_0287, "--dry-run", "--threshold", "0.7"),
        cwd=tmp_path,
    )
    assert given.returncode == 0, given.stderr
    assert "Threshold: given with --threshold." in given.stdout and "in your answers" not in given.stdout
