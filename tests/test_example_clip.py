"""The quick start: the example clip in examples/ with the real detector, and what an empty
or missing videos/ folder tells a new user."""

from __future__ import annotations

import json

import cv2
import pytest

from conftest import REPO, assert_clean_error, run_script

EXAMPLE = REPO / "examples" / "sample.mp4"


def test_the_example_clip_is_small_real_video_with_its_attribution():
    assert EXAMPLE.stat().st_size <= 2_000_000
    capture = cv2.VideoCapture(str(EXAMPLE))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    assert capture.isOpened() and 100 <= frames <= 200 and capture.get(cv2.CAP_PROP_FPS) == 10.0
    capture.release()
    notes = (REPO / "examples" / "README.md").read_text()
    assert "CC BY 4.0" in notes and "https://github.com/intel-iot-devkit/sample-videos" in notes


@pytest.mark.slow
def test_the_quick_start_on_the_example_clip_finds_the_person(tmp_path, detector):
    proc = run_script("obj_counting.py", "--videos", EXAMPLE, "--model", detector, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folders = [p for p in (tmp_path / "persons").iterdir() if p.is_dir()]
    assert len(folders) >= 1 and all(any(f.glob("*.jpg")) for f in folders)
    assert "1 person in 180 frames" in proc.stdout
    assert json.loads((tmp_path / "status.json").read_text())["counting"]["state"] == "done"


def test_an_empty_videos_folder_says_what_to_put_there_and_offers_the_example(tmp_path):
    (tmp_path / "videos").mkdir()
    proc = run_script("obj_counting.py", cwd=tmp_path)
    assert_clean_error(proc, 1, "no videos in videos")
    assert "copy the videos to count persons in into videos/ or pass --videos PATH" in proc.stderr
    assert f"obj_counting.py --videos {EXAMPLE}" in proc.stderr  # absolute: the repository is elsewhere


def test_a_missing_videos_folder_offers_the_example_as_typed_from_the_repository(tmp_path):
    proc = run_script("obj_counting.py", "--videos", tmp_path / "videos", cwd=REPO)
    assert_clean_error(proc, 1, "does not exist")
    assert "bundled example clip: " in proc.stderr and "obj_counting.py --videos examples/sample.mp4" in proc.stderr
