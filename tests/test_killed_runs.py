"""A tracking run killed at the worst moment, the first crop on disk and nothing else yet, serially,
with workers and on a local Ray instance: every folder it leaves says which video it belongs to, so
running again (or --reprocess) replaces it and nobody is counted twice; a later run on other videos
says that such folders are there."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import cv2
import pytest

from conftest import clip_of, run_script

HOW = [[], ["--workers", "2"], ["--ray"]]
FIRST_CROP = "crop-written:1"  # the fault point after the first crop is written (``writer.py``)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, video) -> Path:
    """100 frames of the sample video in which one person walks through."""
    return clip_of(video, tmp_path_factory.mktemp("clip") / "walk.mp4", 220, 100)


def track(clip: Path, work: Path, detector: Path, *extra: str, env: dict | None = None):
    work.mkdir(exist_ok=True)
    args = ["--videos", clip, "--model", detector, "--no-progress", *extra]
    return run_script("obj_counting.py", *args, cwd=work, env=env)


@pytest.fixture(scope="module")
def clean(tmp_path_factory, clip, detector) -> int:
    """The folders an uninterrupted run makes of the clip."""
    work = tmp_path_factory.mktemp("clean")
    proc = track(clip, work, detector)
    assert proc.returncode == 0, proc.stderr
    count = len(list((work / "persons").glob("id_*")))
    assert count >= 1
    return count


def folders(persons: Path) -> list[Path]:
    return sorted(persons.glob("id_*"))


def assert_each_folder_knows_its_video(persons: Path, clip: Path) -> None:
    for folder in folders(persons):
        meta = json.loads((folder / "track.json").read_text())  # there, and whole
        assert meta["video_name"] == clip.name and meta["video_fingerprint"]
        assert {c["file"] for c in meta["crops"]} <= {p.name for p in folder.glob("*.jpg")}


def killed_at_the_first_crop(clip: Path, work: Path, detector: Path, *how: str) -> None:
    proc = track(clip, work, detector, *how, env={"REID_FAULT_AT": FIRST_CROP})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = folders(work / "persons")
    assert left and any(folder.glob("*.jpg") for folder in left)  # it died with a crop on disk
    assert_each_folder_knows_its_video(work / "persons", clip)


@pytest.mark.slow
@pytest.mark.parametrize("how", HOW, ids=["serial", "workers", "ray"])
def test_a_run_killed_after_its_first_crop_is_replaced_by_the_next(how, clip, clean, detector, tmp_path):
    killed_at_the_first_crop(clip, tmp_path, detector, *how)
    again = track(clip, tmp_path, detector, *how)
    assert again.returncode == 0, again.stderr
    assert "its earlier folders were replaced" in again.stdout
    assert len(folders(tmp_path / "persons")) == clean  # nobody counted twice
    for folder in folders(tmp_path / "persons"):
        meta = json.loads((folder / "track.json").read_text())
        assert meta["complete"] is True
        assert all(cv2.imread(str(crop)) is not None for crop in folder.glob("*.jpg"))


@pytest.mark.slow
def test_reprocess_after_a_killed_reprocess_counts_each_person_once(clip, clean, detector, tmp_path):
    assert track(clip, tmp_path, detector).returncode == 0
    killed_at_the_first_crop(clip, tmp_path, detector, "--reprocess")
    again = track(clip, tmp_path, detector, "--reprocess")
    assert again.returncode == 0, again.stderr
    assert len(folders(tmp_path / "persons")) == clean


@pytest.mark.slow
def test_a_run_on_other_videos_says_that_a_killed_run_left_folders(clip, video, detector, tmp_path):
    killed_at_the_first_crop(clip, tmp_path, detector)
    left = [folder.name for folder in folders(tmp_path / "persons")]
    other = clip_of(video, tmp_path / "other.mp4", 0, 20)
    proc = track(other, tmp_path, detector)
    assert proc.returncode == 0, proc.stderr
    names = ", ".join(left)
    assert f"also holds {len(left)} folder{'s' if len(left) > 1 else ''} ({names}) that a killed run" in proc.stdout


def test_a_folder_never_appears_without_its_track_json(tmp_path):
    """The allocator makes a folder with its first track.json in it (a hidden folder renamed into place)."""
    from reid.core.persons import IdAllocator

    persons = tmp_path / "persons"
    persons.mkdir()
    (persons / "id_2").mkdir()  # taken already, if empty: never replaced
    (persons / ".id_1.x7k2.new").mkdir()  # left by a process killed while making a folder
    (persons / ".id_1.x7k2.new" / "track.json").write_text("{}")
    allocator = IdAllocator(persons)
    first = allocator.create_folder({"video_fingerprint": "f", "complete": False})
    assert first[0] == 3 and json.loads((first[1] / "track.json").read_text())["person_id"] == 3
    assert sorted(p.name for p in persons.iterdir()) == [".person_ids", "id_2", "id_3"]
    assert oct(first[1].stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    assert allocator.create_folder()[0] == 4 and os.listdir(persons / "id_4") == []


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
