"""Across cameras: folders of two videos seen at the same time may be one person (never a veto), and
with ``--start-times``, or the start times the video files recorded, the plan says when a group's
cameras saw its folders."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.reliability import DUPLICATE_THRESHOLD
from conftest import assert_clean_error, run_script
from reid.matching.cross_camera import add_cross_camera_evidence, cross_camera_evidence, overlap_seconds, time_spans
from reid.matching.embedding import set_vectors
from reid.matching.file_times import QUICKTIME_EPOCH, creation_time, recorded_start_times
from reid.matching.folders import Folder
from reid.matching.grouping import Appearance
from reid.matching.proposals import Comparison
from reid.matching.start_times import match_videos, parse_start_times


def recorded_video(path: Path, started: datetime | None) -> Path:
    """A short MP4 written by OpenCV's FFmpeg, its movie header stamped ``started`` (None: left at 0)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for k in range(10):
        writer.write(np.full((48, 64, 3), 20 * k, np.uint8))
    writer.release()
    data = bytearray(path.read_bytes())
    at = data.index(b"mvhd") + 4
    assert data[at] == 0, "a version-0 movie header: 32-bit times"
    seconds = 0 if started is None else int((started - QUICKTIME_EPOCH).total_seconds())
    data[at + 4 : at + 8] = seconds.to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def test_the_start_times_recorded_in_the_video_files_are_read(tmp_path):
    ten = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
    cam0 = recorded_video(tmp_path / "cam0.mp4", ten)
    cam1 = recorded_video(tmp_path / "cam1.mp4", ten.replace(second=2))
    assert creation_time(cam0) == ten
    assert recorded_start_times([str(cam1), str(cam0), str(cam0)], tmp_path) == {str(cam0): 0.0, str(cam1): 2.0}
    assert recorded_start_times(["cam0.mp4", "cam1.mp4"], tmp_path) == {"cam0.mp4": 0.0, "cam1.mp4": 2.0}
    # one video without a time, missing, or not a video: no clock for any (they could not be compared)
    unknown = recorded_video(tmp_path / "unknown.mp4", None)
    assert creation_time(unknown) is None and recorded_start_times([str(cam0), str(unknown)], tmp_path) == {}
    assert recorded_start_times([str(cam0), str(tmp_path / "gone.mp4")], tmp_path) == {}
    (tmp_path / "notes.mp4").write_text("not a video")
    assert recorded_start_times([str(cam0), str(tmp_path / "notes.mp4")], tmp_path) == {}
    assert recorded_start_times([str(cam0)], tmp_path) == {}  # one video: nothing to compare


# --- parsing --start-times


@pytest.mark.parametrize(
    "values, expected",
    [
        (["c0.mp4=0", "c1.mp4=12.5"], {"c0.mp4": 0.0, "c1.mp4": 12.5}),
        (["c0.mp4=0, c1.mp4=-3"], {"c0.mp4": 0.0, "c1.mp4": -3.0}),
        (["a.mp4=2026-03-01T10:00:30", "b.mp4=2026-03-01T10:00:00.5"], {"a.mp4": 29.5, "b.mp4": 0.0}),
        (["a.mp4=2026-03-01T10:00:00+01:00", "b.mp4=2026-03-01T09:00:10Z"], {"a.mp4": 0.0, "b.mp4": 10.0}),
        ([], {}),
    ],
)
def test_start_times_are_seconds_on_one_clock(values, expected):
    assert parse_start_times(values) == expected


@pytest.mark.parametrize(
    "values, fragment",
    [
        (["c0.mp4"], "'c0.mp4' must look like VIDEO=TIME"),
        (["=0"], "must look like VIDEO=TIME"),
        (["c0.mp4="], "must look like VIDEO=TIME"),
        (["c0.mp4=ten"], "time 'ten' is neither seconds"),
        (["c0.mp4=nan"], "time 'nan' is neither seconds"),
        (["c0.mp4=2026-13-01T10:00:00"], "is neither seconds"),
        (["c0.mp4=0", "c0.mp4=1"], "c0.mp4 is given twice"),
        (["a.mp4=0,b.mp4=2026-03-01T10:00:00"], "as a date-time or every one as seconds"),
        (["a.mp4=2026-03-01T10:00:00Z,b.mp4=2026-03-01T10:00:00"], "with a time zone"),
    ],
)
def test_bad_start_times_are_named(values, fragment):
    with pytest.raises(ValueError) as caught:
        parse_start_times(values)
    assert fragment in str(caught.value)


def test_start_times_match_videos_by_name_or_path():
    videos = ["/cams/a/c0.mp4", "/cams/a/c1.mp4", "/cams/b/c1.mp4"]
    assert match_videos({"c0.mp4": 5.0}, videos) == {"/cams/a/c0.mp4": 5.0}
    assert match_videos({"/cams/b/c1.mp4": 1.0}, videos) == {"/cams/b/c1.mp4": 1.0}
    with pytest.raises(ValueError, match="the name of 2 videos: give its path"):
        match_videos({"c1.mp4": 1.0}, videos)
    with pytest.raises(ValueError, match=r"names c9\.mp4, which no person folder comes from; their videos: c0.mp4, c1"):
        match_videos({"c9.mp4": 1.0}, videos)


# --- the arithmetic


def test_time_spans_cover_whole_frames_from_the_video_start():
    track = Appearance("r", "/v/c1.mp4", ((0, 24), (50, 74)), fps=25.0)
    assert time_spans(track, 10.0) == [(10.0, 11.0), (12.0, 13.0)]
    assert time_spans(Appearance("r", "/v/c1.mp4", ((0, 24),)), 10.0) == []  # no frame rate: no clock


@pytest.mark.parametrize(
    "a, b, seconds",
    [
        ([(0.0, 10.0)], [(5.0, 20.0)], 5.0),
        ([(0.0, 10.0)], [(10.0, 20.0)], 0.0),
        ([(0.0, 2.0), (4.0, 6.0)], [(1.0, 5.0)], 2.0),
        ([(0.0, 10.0), (2.0, 3.0)], [(0.0, 10.0)], 10.0),  # a folder's own overlapping tracks count once
        ([], [(0.0, 1.0)], 0.0),
    ],
)
def test_overlap_seconds(a, b, seconds):
    assert overlap_seconds(a, b) == pytest.approx(seconds)
    assert overlap_seconds(b, a) == pytest.approx(seconds)


# --- folders seen at the same time by two cameras


def folder(name: str, video: str, first: int, last: int, look: np.ndarray, fps: float = 10.0) -> Folder:
    track = Appearance("run-1", video, ((first, last),), (0, 0, 10, 40), (0, 0, 10, 40), fps)
    found = Folder(name, Path(name), [Path(f"{name}-{k}.jpg") for k in range(3)], [track], camera=video)
    set_vectors(found, np.tile(look, (3, 1)).astype(np.float32))
    return found


def test_folders_of_two_videos_seen_in_the_same_frames_can_be_one_group():
    same_person = np.array([1.0, 0.0, 0.0])
    c0 = folder("id_1", "/v/c0.mp4", 0, 100, same_person)
    c1 = folder("id_2", "/v/c1.mp4", 0, 100, same_person)  # the very frames of id_1, another camera
    hall = folder("id_3", "/v/c0.mp4", 0, 100, same_person)  # the very frames of id_1, its own camera
    comparison = Comparison([c0, c1, hall])
    assert (0, 1) not in comparison.cannot_link and (0, 2) in comparison.cannot_link
    groups = [{f.name for f in g.folders} for g in comparison.proposals(0.9)]
    assert groups in ([{"id_1", "id_2"}], [{"id_2", "id_3"}])  # one of the two: id_1 and id_3 are two people


def test_the_evidence_says_how_long_two_cameras_saw_a_group_together():
    look = np.array([1.0, 0.0, 0.0])
    c0 = folder("id_3", "/v/c0.mp4", 0, 199, look)  # 0-20 s
    c1 = folder("id_40", "/v/c1.mp4", 100, 399, look)  # 10-40 s of c1, which started 2.3 s after c0
    starts = {"/v/c0.mp4": 0.0, "/v/c1.mp4": 2.3}
    assert cross_camera_evidence([c0, c1], starts) == [
        "id_3 (c0.mp4) and id_40 (c1.mp4) were in view at the same time for 7.7 s"
    ]
    later = folder("id_41", "/v/c1.mp4", 600, 700, look)  # 62.3 s on
    assert cross_camera_evidence([c0, later], starts) == [
        "id_3 (c0.mp4) and id_41 (c1.mp4) were never in view at the same time "
        "(id_41 comes into view 42.3 s after id_3 left it)"
    ]
    also = folder("id_4", "/v/c0.mp4", 300, 400, look)  # 30-40 s: the nearest to id_41
    assert cross_camera_evidence([c0, also, later], starts) == [
        "id_3, id_4 (c0.mp4) and id_41 (c1.mp4) were never in view at the same time "
        "(nearest: id_41 comes into view 22.2 s after id_4 left it)"
    ]
    assert cross_camera_evidence([c0, c1], {"/v/c0.mp4": 0.0}) == []  # c1's start unknown: nothing to say
    [group] = Comparison([c0, c1]).proposals(0.9)
    add_cross_camera_evidence([group], starts)
    assert group.evidence[-1].endswith("for 7.7 s")


# --- the script


def meta(person_id: int, video: str, first: int, last: int, crops: list[str]) -> dict:
    return {
        "schema": 1,
        "person_id": person_id,
        "run_id": "run-1",
        "video": f"/videos/{video}",
        "video_name": video,
        "fps": 10.0,
        "tracker_id": person_id,
        "first_frame": first,
        "last_frame": last,
        "segments": [[first, last]],
        "crops": [{"file": c, "frame": first + i} for i, c in enumerate(crops)],
    }


@pytest.fixture
def two_cameras(tmp_path, labelled_crops):
    """persons/: id_1 (cam0.mp4, 0-5 s) and id_2 (cam1.mp4, 3-8 s) show person 001 with the same crops,
    in the same frames of two videos; id_3 (cam0.mp4) is person 003."""
    persons = tmp_path / "persons"
    for name, pid, video, first, last in (
        ("id_1", "001", "cam0.mp4", 0, 49),
        ("id_2", "001", "cam1.mp4", 30, 79),
        ("id_3", "003", "cam0.mp4", 100, 149),
    ):
        (persons / name).mkdir(parents=True)
        crops = sorted((labelled_crops / pid).glob("01_*.png"))
        for image in crops:
            shutil.copy2(image, persons / name / image.name)
        metadata = meta(int(name[3:]), video, first, last, [p.name for p in crops])
        (persons / name / "track.json").write_text(json.dumps(metadata))
    return tmp_path


def reid(workdir: Path, *args: str | Path) -> object:
    return run_script(
        "deeplearningg_reID.py", "--backbone", "mobilenetv2", "--threshold", DUPLICATE_THRESHOLD, *args, cwd=workdir
    )


@pytest.mark.slow
def test_the_plan_says_when_two_cameras_saw_the_folders_it_merges(two_cameras, mobilenet_v2):
    report = two_cameras / "review.html"
    proc = reid(
        two_cameras,
        "--weights",
        mobilenet_v2,
        "--dry-run",
        "--report",
        report,
        "--start-times",
        "cam0.mp4=2026-03-01T10:00:00",
        "--start-times",
        "cam1.mp4=2026-03-01T10:00:01",
    )
    assert proc.returncode == 0, proc.stderr
    plan = proc.stdout.split("Proposed merges:")[1]
    assert "1. id_1 (8 crops)  <-  id_2 (8 crops)" in plan  # seen at the same time: still one person
    # id_1: 0-5 s; id_2: frames 30-79 of a video that started 1 s later, 4-9 s
    assert "id_1 (cam0.mp4) and id_2 (cam1.mp4) were in view at the same time for 1.0 s" in plan
    assert "were in view at the same time for 1.0 s" in report.read_text()
    # without start times the plan is the same, and says nothing about the time
    proc = reid(two_cameras, "--weights", mobilenet_v2, "--dry-run")
    assert "1. id_1 (8 crops)  <-  id_2 (8 crops)" in proc.stdout and "in view" not in proc.stdout
    # where the video files are there and recorded when they started, their times are used
    ten = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
    videos = {"cam0.mp4": ten, "cam1.mp4": ten.replace(second=1)}
    for name, started in videos.items():
        recorded_video(two_cameras / name, started)
    for track in (two_cameras / "persons").glob("id_*/track.json"):
        metadata = json.loads(track.read_text())
        metadata["video"] = metadata["video_name"]  # as tracked from this folder: a relative path
        track.write_text(json.dumps(metadata))
    proc = reid(two_cameras, "--weights", mobilenet_v2, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "Start times: as recorded in the 2 video files (--start-times overrides them)." in proc.stdout
    assert "id_1 (cam0.mp4) and id_2 (cam1.mp4) were in view at the same time for 1.0 s" in proc.stdout


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["--start-times", "cam2.mp4=0"], 1, "names cam2.mp4, which no person folder comes from; their videos: cam0"),
        (["--start-times", "cam0.mp4=10:00"], 2, "--start-times: time '10:00' is neither seconds"),
        (["--start-times", "cam0.mp4"], 2, "--start-times: 'cam0.mp4' must look like VIDEO=TIME"),
        (["--start-times", "cam0.mp4=0", "--undo"], 2, "--start-times describes the plan; it cannot be used with"),
    ],
)
def test_bad_start_times_stop_before_any_work(two_cameras, args, code, fragment):
    proc = reid(two_cameras, "--dry-run" if "--undo" not in args else "--quiet", *args)
    assert_clean_error(proc, code, fragment)
    assert not (two_cameras / "persons" / ".reid_cache").exists()  # nothing was embedded
