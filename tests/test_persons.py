"""The persons/ layout: names, unique ids across runs and processes, listing, metadata."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reid.core.errors import OutputError
from reid.core.persons import (
    IdAllocator,
    crop_filename,
    list_images,
    list_person_folders,
    parse_person_id,
)
from reid.core.track_metadata import read_track_metadata, write_track_metadata

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("id_12", 12),
        ("id_108.0", 108),
        ("id_0", 0),
        ("id_", None),
        ("id_x", None),
        ("person_3", None),
        ("backup_before_merge", None),
        ("id_3.5.1", None),
    ],
)
def test_parse_person_id(name, expected):
    assert parse_person_id(name) == expected


def test_crop_filename_is_safe_and_unique_per_frame():
    assert crop_filename(Path("videos/cam 1/hall way.mp4"), 63) == "hall_way_f000063.jpg"
    assert crop_filename(Path("a.mp4"), 1) != crop_filename(Path("a.mp4"), 2)
    assert crop_filename(Path("Überwachung.mkv"), 5) == "Überwachung_f000005.jpg"
    assert crop_filename(Path("../$$$.avi"), 5) == "video_f000005.jpg"
    assert crop_filename(Path("x.mp4"), 1234567) == "x_f1234567.jpg"


def test_ids_are_sequential_and_folders_created(tmp_path):
    allocator = IdAllocator(tmp_path)
    made = [allocator.create_folder() for _ in range(3)]
    assert [i for i, _ in made] == [1, 2, 3]
    assert all(folder.is_dir() and folder.name == f"id_{i}" for i, folder in made)


def test_ids_continue_after_existing_and_legacy_and_backed_up_folders(tmp_path):
    (tmp_path / "id_108.0").mkdir()
    (tmp_path / "id_7").mkdir()
    assert IdAllocator(tmp_path).create_folder()[0] == 109
    (tmp_path / "backup_before_merge" / "20261124T080000Z" / "id_500").mkdir(parents=True)
    assert IdAllocator(tmp_path).create_folder()[0] == 501


def test_ids_of_removed_folders_are_never_reused(tmp_path):
    allocator = IdAllocator(tmp_path)
    for _ in range(5):
        allocator.create_folder()
    for i in (4, 5):  # e.g. merged into others and their backups deleted
        (tmp_path / f"id_{i}").rmdir()
    assert IdAllocator(tmp_path).create_folder()[0] == 6


def test_a_stale_counter_never_reuses_a_folder(tmp_path):
    (tmp_path / ".person_ids").write_text('{"last_id": 0}')
    (tmp_path / "id_1").mkdir()
    (tmp_path / "id_1" / "keep.jpg").write_bytes(b"x")
    person_id, folder = IdAllocator(tmp_path).create_folder()
    assert person_id == 2 and (tmp_path / "id_1" / "keep.jpg").read_bytes() == b"x"


def test_a_corrupt_counter_is_recomputed_from_folders(tmp_path):
    (tmp_path / ".person_ids").write_text("garbage")
    (tmp_path / "id_4").mkdir()
    assert IdAllocator(tmp_path).create_folder()[0] == 5


def test_concurrent_processes_get_distinct_ids(tmp_path):
    code = (
        "import sys; from reid.core.persons import IdAllocator; a = IdAllocator(sys.argv[1]);"
        "print(' '.join(str(a.create_folder()[0]) for _ in range(40)))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    ids = [int(x) for p in procs for x in p.communicate(timeout=60)[0].split()]
    assert sorted(ids) == list(range(1, 121))
    assert len(list_person_folders(tmp_path)) == 120


def test_allocation_in_an_unwritable_folder_is_a_clean_error(readonly_dir):
    with pytest.raises(OutputError, match="cannot"):
        IdAllocator(readonly_dir).create_folder()


def test_listing_orders_by_id_and_skips_backup_hidden_and_files(tmp_path):
    for name in ("id_10", "id_2", "id_108.0", "alice", "backup_before_merge", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "id_3").write_text("a file, not a folder")
    assert [p.name for p in list_person_folders(tmp_path)] == ["id_2", "id_10", "id_108.0", "alice"]
    assert list_person_folders(tmp_path / "missing") == []


def test_list_images_skips_metadata_hidden_and_temporary_files(tmp_path):
    for name in ("b.jpg", "a.PNG", "track.json", ".x.jpg.123.tmp", ".hidden.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.PNG", "b.jpg"]


def test_metadata_round_trip_and_unreadable_metadata(tmp_path):
    write_track_metadata(tmp_path, {"person_id": 3, "crops": []})
    data = read_track_metadata(tmp_path)
    assert data == {"schema": 1, "person_id": 3, "crops": []}
    assert json.loads((tmp_path / "track.json").read_text())["person_id"] == 3
    (tmp_path / "track.json").write_text("{not json")
    assert read_track_metadata(tmp_path) is None
    (tmp_path / "track.json").write_text("[]")
    assert read_track_metadata(tmp_path) is None
    assert read_track_metadata(tmp_path / "nothing-here") is None
