"""A corpus of bad input, generated here: each gets one clear line, the right exit code, no
traceback, and nothing is lost."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.reliability import build_merge_workdir, crop_multiset, run_reid, warm_cache
from conftest import assert_clean_error, png_claiming, run_script, tree_hashes, write_video

# -- videos ---------------------------------------------------------------------------------


def _truncated_header(video: Path) -> bytes:
    return video.read_bytes()[:3000]  # the first boxes of the mp4, no frames


VIDEO_CORPUS = {
    "zero-byte.mp4": (lambda video: b"", "is empty (0 bytes)"),
    "header-only.mp4": (_truncated_header, "cannot be opened as a video"),
    "text.mp4": (lambda video: b"this is a shopping list, not a video\n" * 20, "cannot be opened as a video"),
    "noise.mp4": (
        lambda video: np.random.default_rng(1).integers(0, 256, 200_000, np.uint8).tobytes(),
        "cannot be opened as a video",
    ),
}


# each case starts the detector; test_obj_counting.py's quick test_only_unreadable_videos has the empty one
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(VIDEO_CORPUS))
def test_a_video_that_cannot_be_read(tmp_path, video, detector, name):
    make, message = VIDEO_CORPUS[name]
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / name).write_bytes(make(video))
    before = tree_hashes(tmp_path / "videos")
    proc = run_script("obj_counting.py", "--model", detector, "--no-progress", cwd=tmp_path, timeout=300)
    assert_clean_error(proc, 1, "no video could be processed")
    assert f"{name}  FAILED: videos/{name} {message}" in proc.stdout
    assert tree_hashes(tmp_path / "videos") == before  # the input is never touched
    assert not list((tmp_path / "persons").glob("id_*"))
    status = json.loads((tmp_path / "status.json").read_text())["counting"]
    assert status["state"] == "failed" and status["errors"][0]["path"] == f"videos/{name}"


@pytest.mark.slow
def test_a_video_without_persons_counts_zero(tmp_path, detector):
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "empty corridor.avi", frames=30)
    proc = run_script("obj_counting.py", "--model", detector, "--no-progress", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Total: 0 persons (0 tracks seen) in 1 of 1 video (" in proc.stdout
    assert not list((tmp_path / "persons").glob("id_*"))
    assert json.loads((tmp_path / "status.json").read_text())["counting"]["persons"] == 0


@pytest.mark.slow
def test_spaces_and_non_ascii_in_video_names_and_folders(tmp_path, video, detector):
    folder = tmp_path / "vidéos d'été" / "cámara 1"
    folder.mkdir(parents=True)
    shutil.copy(video, folder / "entrée principale 😀.mp4")
    proc = run_script(
        "obj_counting.py",
        "--videos",
        tmp_path / "vidéos d'été",
        "--model",
        detector,
        "--max-frames",
        220,
        "--persons",
        tmp_path / "personnes à voir",
        "--no-progress",
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    folders = list((tmp_path / "personnes à voir").glob("id_*"))
    assert len(folders) == 1
    meta = json.loads((folders[0] / "track.json").read_text(encoding="utf-8"))
    assert meta["video"].endswith("cámara 1/entrée principale 😀.mp4")
    crops = sorted(folders[0].glob("*.jpg"))
    assert crops and all(cv2.imdecode(np.fromfile(str(c), np.uint8), cv2.IMREAD_COLOR) is not None for c in crops)


# -- person folders -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, labelled_crops, mobilenet_v2) -> Path:
    """The merge workdir (id_2 -> id_1 and id_4 -> id_3 at 0.99) plus every kind of bad file."""
    work = build_merge_workdir(labelled_crops, tmp_path_factory.mktemp("corpus") / "work")
    persons = work / "persons"
    crop = cv2.imread(str(next((labelled_crops / "011").glob("*.png"))))
    (persons / "id_1" / "empty.png").write_bytes(b"")
    (persons / "id_1" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(3000))
    (persons / "id_1" / "crop with spaces ü 1.png").write_bytes((persons / "id_1" / "01_1.png").read_bytes())
    (persons / "id_2" / "bomb.png").write_bytes(png_claiming(200_000, 200_000))
    (persons / "id_2" / "notes.txt").write_text("the man in the red coat\n")
    (persons / "id_2" / "Thumbs.db").write_bytes(os.urandom(512))
    (persons / "id_2" / "nested").mkdir()
    (persons / "id_2" / "nested" / "x.png").write_bytes((persons / "id_2" / "01_2.png").read_bytes())
    outside = work / "outside" / "secret.png"
    outside.parent.mkdir()
    cv2.imwrite(str(outside), cv2.flip(crop, 1))
    os.symlink(outside, persons / "id_2" / "link.png")
    os.symlink(work / "outside", persons / "id_99")  # a person folder that is a link: not ours
    cv2.imwrite(str(persons / "id_7" / "grey.png"), cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(persons / "id_7" / "rgba.png"), cv2.cvtColor(crop, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(persons / "id_7" / "huge.jpg"), cv2.resize(crop, (2400, 6400)))  # 15 megapixels
    warm_cache(work, mobilenet_v2)
    return work


@pytest.mark.slow
def test_bad_files_in_person_folders_are_named_once_and_skipped(corpus, mobilenet_v2):
    proc = run_reid(corpus, mobilenet_v2, "--dry-run", "-v")  # -v: the count of embedded crops is logged
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    for name in ("id_1/empty.png", "id_1/corrupt.jpg", "id_2/bomb.png"):
        assert sum(name in line for line in warnings) == 1, (name, warnings)
    assert not any(
        name in proc.stderr
        for name in ("notes.txt", "Thumbs.db", "x.png", "link.png", "huge.jpg", "grey.png", "rgba.png")
    )
    # 56 crops + the renamed copy + grey, rgba and huge; not the link, the nested or the bad files
    assert "embedded 60 images" in proc.stderr
    assert ". id_1 (11 crops)  <-  id_2 (9 crops)" in proc.stdout  # listed: the bad files, but not embedded
    assert ". id_3 (8 crops)  <-  id_4 (8 crops)" in proc.stdout and "id_99" not in proc.stdout
    status = json.loads((corpus / "status.json").read_text())["reid"]
    assert {Path(e["path"]).name for e in status["errors"]} == {"empty.png", "corrupt.jpg", "bomb.png"}


@pytest.mark.slow
def test_merging_folders_full_of_bad_files_loses_nothing(corpus, mobilenet_v2, tmp_path):
    work = shutil.copytree(corpus, tmp_path / "work", symlinks=True, copy_function=shutil.copy2)
    persons = work / "persons"
    before = crop_multiset(persons)
    outside = tree_hashes(work / "outside")
    proc = run_reid(work, mobilenet_v2, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert crop_multiset(persons) == before  # every file's content is still here, once
    assert tree_hashes(work / "outside") == outside
    # the link and the nested folder are not the merge's to move: id_2 stays, with them
    assert sorted(p.name for p in (persons / "id_2").iterdir()) == ["link.png", "nested"]
    assert "id_2 was kept: it still holds link.png, nested" in proc.stderr
    assert (persons / "id_1" / "bomb.png").is_file() and (persons / "id_1" / "notes.txt").is_file()
    backup = next((persons / "backup_before_merge").iterdir())
    assert (backup / "id_2" / "link.png").is_symlink() and (backup / "id_2" / "nested" / "x.png").is_file()
    assert (persons / "id_99").is_symlink()


@pytest.mark.slow
def test_a_folder_of_only_unreadable_images(tmp_path):
    for name in ("id_1", "id_2"):
        (tmp_path / "persons" / name).mkdir(parents=True)
        (tmp_path / "persons" / name / "a.jpg").write_bytes(b"")
    proc = run_script("deeplearningg_reID.py", "--weights", "none", "--dry-run", cwd=tmp_path, timeout=300)
    assert_clean_error(proc, 1, "no person folder has a readable crop in persons (2 unreadable files)")
    assert json.loads((tmp_path / "status.json").read_text())["reid"]["state"] == "failed"


# -- status.json -----------------------------------------------------------------------------

STATUS_CORPUS = {
    "empty": ("", "status.json is empty"),
    "truncated": ('{"counting": {"state": "runn', "status.json is not valid JSON"),
    "a list": ('[{"counting": {}}]', "must hold a JSON object, found a list"),
    "a section of the wrong type": ('{"counting": 7}', "section 'counting' must be an object, found a number"),
    "an unknown state": ('{"reid": {"state": "exploded"}}', "section 'reid' has state 'exploded'"),
    "updated_at of the wrong type": ('{"counting": {"state": "done", "updated_at": 5}}', "updated_at of type a number"),
    "not UTF-8": (b"\xff\xfe{\x00}", "status.json"),
}


def _write_status(path: Path, content: str | bytes) -> None:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


@pytest.mark.parametrize("case", sorted(STATUS_CORPUS))
# the merge script loads TensorFlow before it reads the status (seconds a case): one case of it is quick in
# test_deeplearningg_reID.py, the corpus runs in full with the slow tests
@pytest.mark.parametrize("script", ["obj_counting.py", pytest.param("deeplearningg_reID.py", marks=pytest.mark.slow)])
def test_a_malformed_status_file_stops_a_script_before_any_work(tmp_path, script, case):
    content, message = STATUS_CORPUS[case]
    _write_status(tmp_path / "status.json", content)
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "a.avi", frames=5)
    (tmp_path / "persons" / "id_1").mkdir(parents=True)
    (tmp_path / "persons" / "id_1" / "a.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "persons" / "id_2").mkdir(parents=True)
    (tmp_path / "persons" / "id_2" / "b.jpg").write_bytes(b"\xff\xd8")
    before = tree_hashes(tmp_path)
    proc = run_script(script, cwd=tmp_path, timeout=120)
    assert_clean_error(proc, 1, message)
    assert tree_hashes(tmp_path) == before  # the file is left for the user to inspect


def test_the_monitor_answers_503_for_each_malformed_status_and_stays_up(tmp_path):
    import http.client

    from benchmarks.reliability import start_monitor, stop_monitor

    (tmp_path / "persons").mkdir()
    process, port = start_monitor(tmp_path)
    try:
        for case, (content, message) in sorted(STATUS_CORPUS.items()):
            _write_status(tmp_path / "status.json", content)
            for path in ("/health", "/health/processing", "/health/reid"):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", path)
                response = connection.getresponse()
                body = json.loads(response.read())
                connection.close()
                assert response.status == 503, (case, path)
                assert body["status"] == "fail" and message in body["output"], (case, path, body)
        assert process.poll() is None
    finally:
        assert stop_monitor(process) == 0


# -- flags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", ["obj_counting.py", "deeplearningg_reID.py", "health_check.py"])
@pytest.mark.parametrize("args", [["--bogus"], ["--persons"], ["extra-argument"], ["--status", "a", "--no-such"]])
def test_unknown_or_incomplete_flags(tmp_path, script, args):
    proc = run_script(script, *args, cwd=tmp_path, timeout=60)
    assert_clean_error(proc, 2, "see")
    assert not (tmp_path / "status.json").exists() and not (tmp_path / "persons").exists()
