"""The quick start: the example clip in examples/ with the real detector, and what an empty
or missing videos/ folder tells a new user."""

from __future__ import annotations

import json

import cv2
import pytest

from conftest import REPO, assert_clean_error, run_script

EXAMPLE = REPO / "examples" / "sample.mp4"


def test_the_example_clip_is_small_real_video_with_its_attribution():
    assert EXAMPLE.stat().st_size <= 3_000_000
    capture = cv2.VideoCapture(str(EXAMPLE))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    assert capture.isOpened() and frames == 440 and capture.get(cv2.CAP_PROP_FPS) == 10.0
    capture.release()
    notes = (REPO / "examples" / "README.md").read_text()
    assert "CC BY 4.0" in notes and "https://github.com/intel-iot-devkit/sample-videos" in notes


@pytest.mark.slow
def test_the_quick_start_on_the_example_clip_finds_each_visit_in_a_folder_of_its_own(tmp_path, detector):
    """The clip's three visits (the woman, the man, the woman again; see examples/README.md): a folder
    each, none holding crops from two of them."""
    proc = run_script("obj_counting.py", "--videos", EXAMPLE, "--model", detector, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "3 persons in 440 frames" in proc.stdout
    visits = [(0, 65), (115, 350), (350, 440)]  # frames of the clip
    spans = []
    for metadata in sorted((tmp_path / "persons").glob("id_*/track.json")):
        crops = [c["frame"] for c in json.loads(metadata.read_text())["crops"]]
        spans.append([n for n, (start, end) in enumerate(visits) if any(start <= f < end for f in crops)])
    assert spans == [[0], [1], [2]]
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
