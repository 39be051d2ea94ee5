"""MOTChallenge files: parsing, writing, and rewriting them with the identities after a merge."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO
from reid.core.errors import InputError
from reid.tracking.mot import MotFile, MotRow, current_identities, parse_mot, read_mot, relabel, write_mot


def test_rows_round_trip_sorted_by_frame_then_id(tmp_path):
    rows = [MotRow(2, 7, 1.5, 2, 30, 60, 0.9), MotRow(1, 9, 0, 0, 10, 20), MotRow(1, 7, 3, 4, 5, 6, 0.5)]
    write_mot(tmp_path / "a.txt", rows)
    assert (tmp_path / "a.txt").read_text().splitlines()[0] == "1,7,3.00,4.00,5.00,6.00,0.5000,-1,-1,-1"
    assert read_mot(tmp_path / "a.txt") == sorted(rows, key=lambda r: (r.frame, r.id))


def test_ground_truth_lines_parse_and_a_bad_line_is_named():
    assert parse_mot(["1,3,10,20,30,40,1,-1,-1,-1", "", "2,3,11,21,30,40,1,-1,-1,-1"])[1] == MotRow(
        2, 3, 11, 21, 30, 40, 1.0
    )
    with pytest.raises(InputError, match="gt.txt, line 2: not frame,id,x,y,w,h"):
        parse_mot(["1,3,10,20,30,40", "1,x,3"], "gt.txt")


def test_a_video_file_keeps_only_counted_tracks_under_their_person_ids_and_never_overwrites(tmp_path):
    (tmp_path / "hall.txt").write_text("an earlier run's file\n")
    recorder = MotFile(tmp_path, tmp_path / "videos" / "hall.mp4")
    recorder.add(0, 4, (10, 20, 40, 100), 0.9)  # frame index 0 is MOT frame 1
    recorder.add(1, 4, (12, 20, 42, 100), 0.8)
    recorder.add(1, 5, (100, 20, 140, 100), 0.3)  # a track that became no person
    path = recorder.finish({4: 17})
    assert path == tmp_path / "hall_2.txt" and (tmp_path / "hall.txt").read_text() == "an earlier run's file\n"
    assert [(r.frame, r.id, r.x, r.w) for r in read_mot(path)] == [(1, 17, 10, 30), (2, 17, 12, 30)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hall.txt", "hall_2.txt"]  # no partial file left


def test_after_a_merge_the_files_are_rewritten_with_the_surviving_folders(tmp_path):
    persons = tmp_path / "persons"
    for name, metadata in {
        "id_1": {"person_id": 1, "merged_from": ["id_7"], "tracks": [{"person_id": 1}, {"person_id": 7}]},
        "id_2": {"person_id": 2, "segments": [[0, 5]]},
    }.items():
        (persons / name).mkdir(parents=True)
        (persons / name / "track.json").write_text(json.dumps(metadata))
    assert current_identities(persons) == {1: 1, 7: 1, 2: 2}
    assert [r.id for r in relabel([MotRow(1, 7, 0, 0, 1, 1), MotRow(1, 2, 0, 0, 1, 1)], {7: 1, 2: 2})] == [1, 2]

    (tmp_path / "mot").mkdir()
    write_mot(tmp_path / "mot" / "hall.txt", [MotRow(1, 1, 0, 0, 1, 1), MotRow(5, 7, 0, 0, 1, 1)])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reid.tracking.mot",
            "--persons",
            str(persons),
            "--mot",
            str(tmp_path / "mot"),
            "--output",
            str(tmp_path / "merged"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [r.id for r in read_mot(tmp_path / "merged" / "hall.txt")] == [1, 1]
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "reid.tracking.mot",
            "--mot",
            str(tmp_path / "nothing"),
            "--output",
            str(tmp_path / "o"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and missing.stderr.startswith("Error: no MOT files")


RACING_WRITER = """
import sys, time
from pathlib import Path
from reid.tracking.mot import MotFile

folder, writer, rounds, go = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
deadline = time.monotonic() + 60  # hang guard
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
for n in range(rounds):
    recorder = MotFile(folder, Path("videos/hall.mp4"))
    recorder.add(0, 1, (writer, n, writer + 10, n + 10), 0.5)  # the box says who wrote it, and when
    recorder.finish({1: 1})
"""


def test_two_runs_racing_for_the_same_mot_name_never_overwrite_each_other(tmp_path):
    """Two processes write MOT files for the same video into one folder at the same time: every
    file each of them wrote is there, whole, under its own name."""
    writers, rounds, go = 2, 150, tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RACING_WRITER, str(tmp_path), str(w), str(rounds), str(go)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    go.touch()
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read()
    files = sorted(p for p in tmp_path.iterdir() if p.name != "go")
    written = [(int(r.x), int(r.y)) for path in files for r in read_mot(path)]
    assert sorted(written) == [(w, n) for w in range(writers) for n in range(rounds)]
    assert all(p.name == "hall.txt" or p.name.startswith("hall_") for p in files)  # no temporary left
