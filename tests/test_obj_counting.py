"""obj_counting.py end to end: the real script, the real YOLOv8n detector, the real video.

What the video shows (checked by eye and with the detector): six different people walk
in one at a time; in the first 300 frames the first is visible from about frame 63 to
196 and the second from about frame 232 on. Nobody else is in the room.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import cv2
import pytest

from conftest import assert_clean_error, clip_of, run_script, tree_hashes

FRAMES = 300


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, video, detector):
    """One real run over the first 300 frames, shared by the checks below."""
    work = tmp_path_factory.mktemp("e2e")
    proc = run_script("obj_counting.py", "--videos", video, "--model", detector, "--max-frames", FRAMES, cwd=work)
    return work, proc


def test_the_run_succeeds_and_prints_the_count(first_run, video):
    work, proc = first_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"2 persons in {FRAMES} frames" in proc.stdout
    assert re.search(r"Total: 2 persons \(\d+ tracks seen\) in 1 of 1 video \(", proc.stdout), proc.stdout


def test_one_folder_per_person_seen_with_metadata_matching_the_video(first_run, video):
    work, _ = first_run
    folders = sorted(p.name for p in (work / "persons").iterdir() if p.is_dir())
    assert folders == ["id_1", "id_2"]
    first = json.loads((work / "persons" / "id_1" / "track.json").read_text())
    second = json.loads((work / "persons" / "id_2" / "track.json").read_text())
    assert 50 <= first["first_frame"] <= 80 and 185 <= first["last_frame"] <= 215
    assert 220 <= second["first_frame"] <= 250 and second["last_frame"] == FRAMES - 1
    assert first["last_frame"] < second["first_frame"]  # they are never in the room together
    for meta in (first, second):
        assert meta["video"] == str(video.resolve()) and meta["fps"] == 10.0 and meta["frame_size"] == [768, 432]
        assert meta["tracker"] == "bytetrack" and meta["complete"] is True
        assert meta["segments"][0][0] == meta["first_frame"] and meta["segments"][-1][1] == meta["last_frame"]
        assert meta["first_time_s"] == pytest.approx(meta["first_frame"] / 10)


def test_crops_are_real_spread_and_described(first_run):
    work, _ = first_run
    for folder in ("id_1", "id_2"):
        meta = json.loads((work / "persons" / folder / "track.json").read_text())
        crops = meta["crops"]
        assert 5 <= len(crops) <= 40
        assert {c["file"] for c in crops} == {p.name for p in (work / "persons" / folder).glob("*.jpg")}
        for crop in crops:
            image = cv2.imread(str(work / "persons" / folder / crop["file"]))
            x1, y1, x2, y2 = crop["box"]
            assert image is not None and image.shape[:2] == (y2 - y1, x2 - x1)
            # not cut by the border (2 px margin; the stored box is the float box rounded)
            assert image.shape[0] >= 64 and x1 >= 2 and x2 <= 766 and y1 >= 2 and y2 <= 430
            assert crop["conf"] >= 0.25
            assert meta["first_frame"] <= crop["frame"] <= meta["last_frame"]
        frames = [c["frame"] for c in crops]
        span = meta["last_frame"] - meta["first_frame"]
        assert frames == sorted(frames) and frames[-1] - frames[0] >= 0.6 * span  # spread, not the first frames


def test_status_file_records_the_finished_count(first_run):
    work, _ = first_run
    section = json.loads((work / "status.json").read_text())["counting"]
    assert section["state"] == "done"
    assert (section["persons"], section["frames_done"], section["frames_total"]) == (2, FRAMES, FRAMES)
    assert (section["videos_done"], section["videos_total"]) == (1, 1)
    assert section["fps"] > 0 and section["errors"] == [] and section["finished_at"]


@pytest.mark.slow
def test_a_second_run_never_touches_the_first_runs_folders(first_run, video, detector, tmp_path):
    work, _ = first_run
    shutil.copytree(work / "persons", tmp_path / "persons")
    before = tree_hashes(tmp_path / "persons")
    other = clip_of(video, tmp_path / "another camera.mp4", start=40, frames=160)  # the first person again
    proc = run_script("obj_counting.py", "--videos", other, "--model", detector, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    after = tree_hashes(tmp_path / "persons")
    # every file of the first run is unchanged (the id counter and the record of videos done are meant to grow)
    bookkeeping = (".person_ids", ".videos.json")
    assert {k: v for k, v in after.items() if k in before and k not in bookkeeping} == {
        k: v for k, v in before.items() if k not in bookkeeping
    }
    new = sorted({Path(k).parts[0] for k in after} - {Path(k).parts[0] for k in before})
    assert new == ["id_3"]


# -- bad input: one clear line, the right exit code, nothing lost -----------------------


def test_missing_videos_folder(tmp_path):
    assert_clean_error(run_script("obj_counting.py", cwd=tmp_path), 1, "videos does not exist")


def test_empty_videos_folder(tmp_path):
    (tmp_path / "videos").mkdir()
    assert_clean_error(run_script("obj_counting.py", cwd=tmp_path), 1, "no videos in videos")


@pytest.mark.slow
def test_a_file_that_is_not_a_video_among_good_ones(tmp_path, video, detector):
    (tmp_path / "videos").mkdir()
    os.symlink(video, tmp_path / "videos" / "a_real.mp4")
    (tmp_path / "videos" / "b_text.mp4").write_text("this is not a video\n")
    proc = run_script("obj_counting.py", "--model", detector, "--max-frames", 80, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "b_text.mp4  FAILED: videos/b_text.mp4 cannot be opened as a video" in proc.stdout
    assert re.search(r"Total: 1 person \(\d+ tracks? seen\) in 1 of 2 videos \(", proc.stdout), proc.stdout
    section = json.loads((tmp_path / "status.json").read_text())["counting"]
    assert section["state"] == "done"
    assert [(v["state"], v["persons"]) for v in section["videos"]] == [("done", 1), ("failed", 0)]
    assert section["errors"][0]["path"] == "videos/b_text.mp4"


def test_only_unreadable_videos(tmp_path, detector):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "zero.mp4").write_bytes(b"")
    proc = run_script("obj_counting.py", "--model", detector, cwd=tmp_path)
    assert_clean_error(proc, 1, "no video could be processed")
    assert "zero.mp4 is empty (0 bytes)" in proc.stdout
    assert json.loads((tmp_path / "status.json").read_text())["counting"]["state"] == "failed"


@pytest.mark.slow
def test_a_truncated_video_is_processed_as_far_as_it_goes_and_reported(tmp_path, video, detector):
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(video.read_bytes()[:250_000])
    proc = run_script("obj_counting.py", "--videos", truncated, "--model", detector, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "(the file is truncated or damaged)" in proc.stdout
    section = json.loads((tmp_path / "status.json").read_text())["counting"]
    assert 0 < section["frames_done"] < 1394
    assert "truncated" in section["errors"][0]["message"]


def test_an_unwritable_persons_folder(tmp_path, video, readonly_dir):
    proc = run_script("obj_counting.py", "--videos", video, "--persons", readonly_dir, cwd=tmp_path)
    assert_clean_error(proc, 1, f"cannot write in {readonly_dir}")


def test_persons_path_that_is_a_file(tmp_path, video):
    (tmp_path / "persons").write_text("precious")
    proc = run_script("obj_counting.py", "--videos", video, cwd=tmp_path)
    assert_clean_error(proc, 1, "persons exists and is not a folder")
    assert (tmp_path / "persons").read_text() == "precious"


def test_a_model_file_that_does_not_exist(tmp_path, video):
    proc = run_script("obj_counting.py", "--videos", video, "--model", "weights/best.pt", cwd=tmp_path)
    assert_clean_error(proc, 1, "model file weights/best.pt not found")


def test_the_default_model_offline_names_the_file_and_the_fix(tmp_path, video, monkeypatch):
    # a proxy on a closed local port makes the download fail at once, online or not
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    proc = run_script("obj_counting.py", "--videos", video, cwd=tmp_path)
    assert_clean_error(proc, 1, "model file yolov8n.pt not found and it could not be downloaded")
    assert not (tmp_path / "yolov8n.pt").exists()


def test_a_damaged_model_file(tmp_path, video):
    (tmp_path / "broken.tflite").write_bytes(b"\x00" * 1000)
    proc = run_script("obj_counting.py", "--videos", video, "--model", "broken.tflite", cwd=tmp_path)
    assert_clean_error(proc, 1, "broken.tflite")


def test_a_malformed_status_file_is_reported_and_left_alone(tmp_path, video):
    (tmp_path / "status.json").write_text('{"counting": ')
    proc = run_script("obj_counting.py", "--videos", video, cwd=tmp_path)
    assert_clean_error(proc, 1, "status.json is not valid JSON")
    assert (tmp_path / "status.json").read_text() == '{"counting": '


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--tracker", "deepsort"], "invalid choice: 'deepsort'"),
        (["--conf", "1.5"], "conf must be between 0 and 1"),
        (["--max-frames", "ten"], "invalid int value: 'ten'"),
        (["--max-crops", "0"], "max-crops must be at least 1"),
    ],
)
def test_bad_flags(tmp_path, args, fragment):
    assert_clean_error(run_script("obj_counting.py", *args, cwd=tmp_path), 2, fragment)


def test_help_documents_every_flag_with_its_default(tmp_path):
    proc = run_script("obj_counting.py", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    for flag in (
        "--videos",
        "--persons",
        "--status",
        "--model",
        "--tracker",
        "--conf",
        "--max-frames",
        "--max-crops",
        "--crop-interval",
        "--min-crop-height",
        "--keep-edge-crops",
        "--threads",
    ):
        assert flag in proc.stdout
    assert "(default: videos)" in proc.stdout and "(default: yolov8n.pt)" in proc.stdout


@pytest.mark.slow
def test_thread_settings_for_a_litert_detector(detector):
    """LiteRT gets every core; torch, which then only pre- and post-processes, gets one."""
    import subprocess
    import sys

    from conftest import REPO

    code = (
        "import sys, torch; sys.modules.setdefault('triton', None)\n"
        "import ultralytics.nn.backends.litert as litert\n"
        "from reid.core.config import TrackingConfig\n"
        "from reid.tracking.detector import PersonTracker\n"
        f"tracker = PersonTracker(TrackingConfig(model={str(detector)!r}, threads=2))\n"
        "print(litert.NUM_THREADS, torch.get_num_threads(), tracker.torch_threads)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].split() == ["2", "1", "1"]


def person_folders(persons: Path) -> dict[str, dict[str, str]]:
    return {p.name: tree_hashes(p) for p in sorted(persons.glob("id_*"))}


@pytest.mark.slow
def test_a_video_done_before_is_skipped_and_reprocess_replaces_its_folders(tmp_path, video, detector):
    """Run twice on one video (the second time under another name): the people are not counted twice."""
    args = ["--model", detector, "--max-frames", 220, "--no-progress"]
    first = run_script("obj_counting.py", "--videos", video, *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    persons = tmp_path / "persons"
    earlier = person_folders(persons)
    assert list(earlier) == ["id_1"]

    renamed = tmp_path / "copy of the same video.mp4"
    shutil.copy(video, renamed)
    again = run_script("obj_counting.py", "--videos", renamed, *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (
        "skipped: done already (run " in again.stdout
        and "1 person in the folders now); --reprocess replaces" in again.stdout
    )
    assert person_folders(persons) == earlier  # nothing duplicated, nothing touched

    redone = run_script("obj_counting.py", "--videos", renamed, *args, "--reprocess", cwd=tmp_path)
    assert redone.returncode == 0, redone.stderr
    assert "its earlier folders were replaced (kept in persons/backup_before_merge/" in redone.stdout
    now = person_folders(persons)
    assert list(now) == ["id_2"]  # the same person once, under a new id
    (kept,) = (persons / "backup_before_merge").glob("*-replaced")
    assert {p.name: tree_hashes(p) for p in kept.glob("id_*")} == earlier  # the old folder, byte for byte

    longer = run_script(
        "obj_counting.py", "--videos", video, "--model", detector, "--max-frames", 300, "--no-progress", cwd=tmp_path
    )
    assert longer.returncode == 0, longer.stderr  # done only in part before: done again, replacing id_2
    assert sorted(person_folders(persons)) == ["id_3", "id_4"]


@pytest.mark.slow
def test_save_mot_writes_every_box_of_every_counted_track(tmp_path, video, detector):
    from reid.tracking.mot import read_mot

    proc = run_script(
        "obj_counting.py",
        "--videos",
        video,
        "--model",
        detector,
        "--max-frames",
        220,
        "--no-progress",
        "--save-mot",
        "mot",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    mot_file = tmp_path / "mot" / f"{video.stem}.txt"
    assert f"tracks in MOTChallenge format: mot/{video.stem}.txt" in proc.stdout
    rows = read_mot(mot_file)
    folders = {int(p.name[3:]): json.loads((p / "track.json").read_text()) for p in (tmp_path / "persons").glob("id_*")}
    assert {r.id for r in rows} == set(folders)  # ids are the person folder numbers, every counted track
    for person_id, meta in folders.items():
        mine = {r.frame: r for r in rows if r.id == person_id}
        assert len(mine) == meta["frames_seen"]  # every frame the track was seen, not only the crops
        assert min(mine) == meta["first_frame"] + 1 and max(mine) == meta["last_frame"] + 1  # MOT counts from 1
        for crop in meta["crops"]:
            row = mine[crop["frame"] + 1]
            x1, y1, x2, y2 = crop["box"]
            assert abs(row.x - x1) <= 1 and abs(row.y - y1) <= 1 and abs(row.x + row.w - x2) <= 1
    assert json.loads((tmp_path / "status.json").read_text())["counting"]["videos"][0]["mot_file"] == str(
        Path("mot") / f"{video.stem}.txt"
    )
