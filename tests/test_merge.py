"""Merging folders with real files: backup, collision-safe moves, metadata, kills, undo."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import REPO, tree_hashes, unavailable
from reid.core.errors import MergeError, OutputError
from reid.merging import MERGE_JOURNAL as JOURNAL
from reid.merging import UNDO_JOURNAL, Group, Split, last_merge, merge, plan_moves, recover, undo_last
from reid.merging.plan import make_plan


def make_folder(persons: Path, name: str, files: dict[str, bytes], metadata: dict | None = None) -> Path:
    folder = persons / name
    folder.mkdir(parents=True)
    for file_name, content in files.items():
        (folder / file_name).write_bytes(content)
    if metadata is not None:
        (folder / "track.json").write_text(json.dumps(metadata))
    return folder


def track_meta(person_id: int, files: list[str], first: int) -> dict:
    return {
        "schema": 1,
        "person_id": person_id,
        "run_id": "r1",
        "video": "/v/a.mp4",
        "segments": [[first, first + 9]],
        "first_frame": first,
        "last_frame": first + 9,
        "crops": [{"file": f, "frame": first + i, "box": [1, 2, 3, 4], "conf": 0.9} for i, f in enumerate(files)],
    }


@pytest.fixture
def persons(tmp_path) -> Path:
    """Three folders; id_2 and id_3 share crop names with id_1 (same video, same frames)."""
    root = tmp_path / "persons"
    make_folder(
        root,
        "id_1",
        {"a_f000001.jpg": b"one-1", "a_f000002.jpg": b"one-2" * 50},
        track_meta(1, ["a_f000001.jpg", "a_f000002.jpg"], 0),
    )
    make_folder(
        root,
        "id_2",
        {"a_f000001.jpg": b"two-1", "b_f000009.jpg": b"two-9"},
        track_meta(2, ["a_f000001.jpg", "b_f000009.jpg"], 100),
    )
    make_folder(root, "id_3", {"a_f000001.jpg": b"three-1", "a_f000001__id_3.jpg": b"tricky", "notes.txt": b"mine"})
    make_folder(root, "id_4", {"x.jpg": b"four"})
    return root


def content_multiset(root: Path) -> collections.Counter:
    """Every file's content below root, outside the backup and the bookkeeping (track.json is rewritten)."""
    return collections.Counter(
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
        and "backup_before_merge" not in p.parts
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.name != "track.json"
    )


GROUPS = [Group("id_1", ["id_2", "id_3"])]


def user_files(root: Path) -> dict[str, str]:
    """tree_hashes without the hidden bookkeeping files (lock, cache, journals)."""
    return {k: v for k, v in tree_hashes(root).items() if not any(part.startswith(".") for part in Path(k).parts)}


def test_merge_moves_every_file_with_collision_safe_names(persons):
    before = content_multiset(persons)
    originals = {name: tree_hashes(persons / name) for name in ("id_1", "id_2", "id_3")}
    result = merge(persons, GROUPS)
    assert (result.groups, result.folders_removed, result.files_moved, result.errors) == (1, 2, 5, [])
    assert content_multiset(persons) == before  # nothing lost, nothing duplicated
    assert sorted(p.name for p in persons.iterdir() if not p.name.startswith(".")) == [
        "backup_before_merge",
        "id_1",
        "id_4",
    ]
    assert sorted(p.name for p in (persons / "id_1").iterdir()) == [
        "a_f000001.jpg",
        "a_f000001__id_2.jpg",
        "a_f000001__id_3.jpg",
        "a_f000001__id_3__id_3.jpg",
        "a_f000002.jpg",
        "b_f000009.jpg",
        "notes.txt",
        "track.json",
    ]
    assert (persons / "id_1" / "a_f000001.jpg").read_bytes() == b"one-1"  # the survivor's file kept its name
    assert (persons / "id_1" / "a_f000001__id_3.jpg").read_bytes() == b"three-1"
    assert (persons / "id_1" / "a_f000001__id_3__id_3.jpg").read_bytes() == b"tricky"
    # the backup holds the three folders exactly as they were
    for name, hashes in originals.items():
        assert tree_hashes(result.backup / name) == hashes
    manifest = json.loads((result.backup / "merge.json").read_text())
    assert manifest["state"] == "merged" and not (persons / JOURNAL).exists()
    assert (result.backup / "journal.jsonl").exists()


def test_merged_metadata_lists_every_track_and_crop_under_its_new_name(persons):
    merge(persons, GROUPS)
    meta = json.loads((persons / "id_1" / "track.json").read_text())
    assert meta["person_id"] == 1 and meta["merged_from"] == ["id_2", "id_3"]
    assert [t["person_id"] for t in meta["tracks"]] == [1, 2]  # id_3 had no metadata: no track, no constraint
    files = {c["file"]: c["source_folder"] for c in meta["crops"]}
    assert files["a_f000001__id_2.jpg"] == "id_2" and files["b_f000009.jpg"] == "id_2"
    on_disk = {p.name for p in (persons / "id_1").glob("*.jpg")}
    assert on_disk <= set(files)


def test_plan_never_reuses_a_name(persons):
    targets = [m.target for m in plan_moves(persons, GROUPS)]
    assert len(targets) == len(set(targets))
    existing = {f"id_1/{p.name}" for p in (persons / "id_1").iterdir()}
    assert not existing & set(targets)


def test_undo_restores_byte_for_byte(persons):
    before = tree_hashes(persons)
    merge(persons, GROUPS)
    backup, folders = undo_last(persons)
    assert folders == ["id_1", "id_2", "id_3"]
    after = {
        k: v
        for k, v in tree_hashes(persons).items()
        if not k.startswith(("backup_before_merge", ".")) and "/." not in k
    }
    assert after == {k: v for k, v in before.items() if not k.startswith(".")}
    assert json.loads((backup / "merge.json").read_text())["state"] == "undone"
    assert last_merge(persons) is None
    # nothing of the merge's bookkeeping is left beside the folders (no lock, lease or journal)
    assert {k for k in tree_hashes(persons) if not k.startswith("backup_before_merge")} == set(before)
    with pytest.raises(MergeError, match=f"the last merge \\(backup {backup.name}\\) was already undone at 20"):
        undo_last(persons)


def test_undo_without_any_merge(persons):
    with pytest.raises(MergeError, match="no merge to undo"):
        undo_last(persons)


@pytest.mark.parametrize(
    "groups, message",
    [
        ([Group("id_1", ["id_1", "id_2"])], "id_1 is its own member"),
        ([Group("id_1", ["id_2"]), Group("id_3", ["id_2"])], "id_2 is in two places"),
        ([Group("id_1", ["id_2"]), Group("id_2", ["id_3"])], "id_2 is in two places"),
        ([Group("id_1", ["id_2", "id_2"])], "id_2 is in two places"),
        ([Group("id_1", [])], "has no member"),
        ([Group("id_1", ["../persons/id_2"])], "is not a person folder"),
        ([Group("id_1", ["backup_before_merge"])], "is not a person folder"),
    ],
)
def test_a_broken_plan_is_refused_before_anything_changes(persons, groups, message):
    (persons / "backup_before_merge").mkdir()
    before = tree_hashes(persons)
    with pytest.raises(MergeError, match=message.replace("(", "\\(")):
        merge(persons, groups)
    assert tree_hashes(persons) == before  # the survivor's track.json above all


def test_problems_met_before_a_kill_stay_in_the_manifest_after_recovery(persons):
    # a file takes the name planned for one of id_2's crops after the plan was made: the move leaves the crop
    env = {**os.environ, "REID_FAULT_AT": "metadata"}
    code = (
        "import sys; from pathlib import Path; from reid.merging import Group, apply as m\n"
        "real = m.make_plan\n"
        "def planned(persons_dir, groups, splits):\n"
        "    plan = real(persons_dir, groups, splits)\n"
        "    (persons_dir / 'id_1' / 'b_f000009.jpg').write_bytes(b'appeared during the merge')\n"
        "    return plan\n"
        "m.make_plan = planned\n"
        "m.merge(Path(sys.argv[1]), [Group('id_1', ['id_2', 'id_3'])])"
    )
    killed = subprocess.run(
        [sys.executable, "-c", code, str(persons)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -9, killed.stderr
    assert "finished" in recover(persons)
    backup = last_merge(persons)
    errors = json.loads((backup / "merge.json").read_text())["errors"]
    assert errors == [
        "id_1/b_f000009.jpg already exists; id_2/b_f000009.jpg was left in place",  # before the kill
        "id_2 was kept: it still holds b_f000009.jpg",
    ]  # found by the recovery


def test_undo_refuses_when_it_would_drop_a_new_file(persons):
    merge(persons, GROUPS)
    (persons / "id_1" / "added_later.jpg").write_bytes(b"new")
    before = user_files(persons)
    with pytest.raises(MergeError, match="added after the merge"):
        undo_last(persons)
    assert user_files(persons) == before


def test_a_second_merge_waits_for_an_interrupted_one(persons):
    (persons / JOURNAL).write_text("")
    with pytest.raises(MergeError, match="interrupted"):
        merge(persons, GROUPS)
    assert "empty journal" in recover(persons)


def test_missing_folder_is_refused_before_anything_changes(persons):
    before = user_files(persons)
    with pytest.raises(MergeError, match="not a person folder"):
        merge(persons, [Group("id_1", ["id_9"])])
    assert user_files(persons) == before


def test_read_only_persons_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    make_folder(ro, "id_1", {"a.jpg": b"a"})
    make_folder(ro, "id_2", {"b.jpg": b"b"})
    if os.geteuid() == 0:
        bound = subprocess.run(["mount", "--bind", "-o", "ro", str(ro), str(ro)], capture_output=True)
        if bound.returncode != 0:
            unavailable(f"cannot make a read-only folder as root: {bound.stderr.decode().strip()}")
    else:
        ro.chmod(0o555)
    try:
        before = user_files(ro)
        with pytest.raises(OutputError, match="cannot write in"):
            merge(ro, [Group("id_1", ["id_2"])])
        assert user_files(ro) == before
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)], check=False)
        else:
            ro.chmod(0o755)


def test_a_full_disk_during_backup_stops_before_anything_is_moved(tmp_path):
    if os.geteuid() != 0:
        unavailable("needs root to mount a small filesystem")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", f"full-{uuid.uuid4().hex[:6]}", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        unavailable(f"cannot mount a small tmpfs: {mounted.stderr.strip()}")
    try:
        persons = disk / "persons"
        make_folder(persons, "id_1", {"a.jpg": os.urandom(150_000)})
        make_folder(persons, "id_2", {"b.jpg": os.urandom(150_000)})
        before = user_files(persons)  # 300 kB of 512 kB: the backup cannot fit
        with pytest.raises(OutputError, match="nothing was changed"):
            merge(persons, [Group("id_1", ["id_2"])])
        assert user_files(persons) == before
        assert not (persons / JOURNAL).exists()
        assert not any((persons / "backup_before_merge").iterdir())
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# -- killed at every step, then run again ----------------------------------------------

MERGE_SNIPPET = """
import sys
from pathlib import Path
from reid.merging import Group, merge, recover
persons = Path(sys.argv[1])
note = recover(persons)
if sys.argv[2] == "merge" and note is None:
    merge(persons, [Group("id_1", ["id_2", "id_3"])])
print(note)
"""

# each step's ``before:`` point is the step done but not yet journaled
FAULT_POINTS = [
    "before:begin",
    "begin",
    "backup:1",
    "backup:2",
    "backup:3",
    "before:manifest:merging",
    "manifest:merging",
    "before:backup_verified",
    "backup_verified",
    "linked:0",
    "before:moved:0",
    "moved:0",
    "linked:2",
    "moved:2",
    "linked:4",
    "moved:4",
    "before:metadata:id_1",
    "metadata:id_1",
    "before:removed:id_2",
    "removed:id_2",
    "removed:id_3",
    "before:manifest:merged",
    "manifest:merged",
    "before:done",
    "done",
    "journal_filed",
]


def run_merge(persons: Path, fault: str | None, action: str = "merge") -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.pop("REID_FAULT_AT", None)
    if fault:
        env["REID_FAULT_AT"] = fault
    return subprocess.run(
        [sys.executable, "-c", MERGE_SNIPPET, str(persons), action],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("fault", FAULT_POINTS)
def test_a_merge_killed_at_any_step_is_completed_by_the_next_run(persons, fault):
    before = content_multiset(persons)
    originals = {name: tree_hashes(persons / name) for name in ("id_1", "id_2", "id_3")}
    killed = run_merge(persons, fault)
    assert killed.returncode == -9, killed.stderr  # it really died at that point
    again = run_merge(persons, None, action="recover")
    assert again.returncode == 0, again.stderr
    assert content_multiset(persons) == before
    backups = list((persons / "backup_before_merge").iterdir()) if (persons / "backup_before_merge").exists() else []
    if fault in (
        "before:begin",
        "begin",
        "backup:1",
        "backup:2",
        "backup:3",
        "before:manifest:merging",
        "manifest:merging",
        "before:backup_verified",
    ):
        # before anything moved: nothing to recover (no journal yet) or rolled back
        assert ("rolled back" in again.stdout) == (fault != "before:begin")
        assert not backups and sorted(p.name for p in persons.glob("id_*")) == ["id_1", "id_2", "id_3", "id_4"]
        return
    # from the first move on: finished by the next run (or complete already, when killed after the very last step)
    assert ("finished" in again.stdout) == (fault != "journal_filed")
    assert sorted(p.name for p in persons.glob("id_*")) == ["id_1", "id_4"]
    assert len(backups) == 1
    for name, hashes in originals.items():
        assert tree_hashes(backups[0] / name) == hashes
    assert json.loads((backups[0] / "merge.json").read_text())["state"] == "merged"
    assert not (persons / JOURNAL).exists()


UNDO_FAULTS = [
    "before:undo:begin",
    "undo:begin",
    "undo:stage_file:2",
    "undo:stage:1",
    "undo:stage:3",
    "before:undo:staged",
    "undo:staged",
    "before:undo:restored:id_1",
    "undo:restored:id_1",
    "undo:restored:id_2",
    "undo:restored:id_3",
    "before:undo:staging_removed",
    "undo:staging_removed",
    "before:undo:manifest:undone",
    "undo:manifest:undone",
    "before:undo:done",
    "undo:done",
    "undo:journal_filed",
]


@pytest.mark.parametrize("fault", UNDO_FAULTS)
def test_an_undo_killed_at_any_step_is_completed_or_rolled_back(persons, fault):
    before = tree_hashes(persons)
    merge(persons, GROUPS)
    merged = tree_hashes(persons)
    env = {**os.environ, "REID_FAULT_AT": fault}
    code = "import sys; from pathlib import Path; from reid.merging import undo_last; undo_last(Path(sys.argv[1]))"
    killed = subprocess.run(
        [sys.executable, "-c", code, str(persons)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -9, killed.stderr
    # no journal yet (killed before its first line): nothing to do; after its last step: undone already
    note = recover(persons) or ("rolled back" if fault == "before:undo:begin" else "finished (already)")
    visible = {
        k: v
        for k, v in tree_hashes(persons).items()
        if not k.startswith(("backup_before_merge", ".")) and "/." not in k
    }
    if "rolled back" in note:
        assert visible == {k: v for k, v in merged.items() if not k.startswith(("backup_before_merge", "."))}
    else:
        assert "finished" in note
        assert visible == {k: v for k, v in before.items() if not k.startswith(".")}
    assert not (persons / UNDO_JOURNAL).exists()
    assert not list(persons.glob(".undo-*"))
    # and every later run works: nothing is pending, and a merge or an undo can follow
    assert recover(persons) is None
    if "finished" in note:
        merge(persons, GROUPS)
    undo_last(persons)


# -- splits: part of a folder becomes a new person folder, in the same journaled plan ---------

SPLIT = [Split("id_1", ["a_f000002.jpg"], "id_9")]
SPLIT_GROUPS = [Group("id_9", ["id_4"])]  # the split-off part takes id_4 in, in the same plan


def visible(persons: Path) -> dict[str, str]:
    return {k: v for k, v in tree_hashes(persons).items() if not k.startswith(("backup_before_merge", "."))}


def test_a_split_and_a_merge_into_the_split_off_part_and_their_undo(persons):
    before = visible(persons)
    contents = content_multiset(persons)
    result = merge(persons, SPLIT_GROUPS, splits=SPLIT)
    assert (result.folders_created, result.folders_removed, result.errors) == (1, 1, [])
    assert content_multiset(persons) == contents
    assert sorted(p.name for p in persons.glob("id_*")) == ["id_1", "id_2", "id_3", "id_9"]
    assert sorted(p.name for p in (persons / "id_1").iterdir()) == ["a_f000001.jpg", "track.json"]
    assert sorted(p.name for p in (persons / "id_9").iterdir()) == ["a_f000002.jpg", "track.json", "x.jpg"]
    kept, part = (json.loads((persons / n / "track.json").read_text()) for n in ("id_1", "id_9"))
    assert kept["split_off"] == ["id_9"] and [c["file"] for c in kept["crops"]] == ["a_f000001.jpg"]
    assert kept["tracks"][0]["segments"] == [[0, 0]]  # the track cut to the frames of its crops
    assert (part["split_from"], part["person_id"], part["merged_from"]) == ("id_1", 9, ["id_4"])
    assert part["tracks"][0]["segments"] == [[1, 1]] and {c["file"] for c in part["crops"]} == {
        "a_f000002.jpg",
        "x.jpg",
    }
    undo_last(persons)
    assert visible(persons) == before  # byte for byte, and the new folder gone


def test_a_split_may_not_name_a_file_the_folder_does_not_hold_or_an_existing_folder(persons):
    before = tree_hashes(persons)
    with pytest.raises(MergeError, match="names files it does not hold: nope.jpg"):
        merge(persons, [], splits=[Split("id_1", ["nope.jpg"], "id_9")])
    with pytest.raises(MergeError, match="new folder id_2 of a split exists already"):
        merge(persons, [], splits=[Split("id_1", ["a_f000001.jpg"], "id_2")])
    assert tree_hashes(persons) == before


def handed_over(root: Path, name: str, boxes: bool) -> Path:
    """A track of 6 crops (20 fps): crops 0-2 show one person walking right from the left edge, crops 3-5
    another walking left from the right edge; the track's first box is the first person's, its last the
    second's. ``boxes=False``: an older folder that did not record each crop's box."""
    files = [f"a_f{100 + 10 * k:06d}.jpg" for k in range(6)]
    crop_boxes = [[10 + 30 * k, 100, 50 + 30 * k, 200] for k in range(3)] + [
        [700 - 30 * k, 100, 740 - 30 * k, 200] for k in range(3)
    ]
    crops = [{"file": f, "frame": 100 + 10 * k, "conf": 0.9} for k, f in enumerate(files)]
    for crop, box in zip(crops, crop_boxes, strict=True):
        crop.update({"box": box} if boxes else {})
    for crop in crops[3:]:
        crop["low_resolution"] = True  # the second person only ever gave poor crops
    metadata = {
        **track_meta(1, files, 100),
        "fps": 20.0,
        "segments": [[98, 160]],
        "first_frame": 98,
        "last_frame": 160,
        "first_time_s": 4.9,
        "last_time_s": 8.0,
        "frames_seen": 63,
        "first_box": [10, 100, 50, 200],
        "last_box": [620, 100, 660, 200],
        "good_crops": True,
        "crops": crops,
    }
    return make_folder(root, name, {f: f.encode() for f in files}, metadata)


def test_each_part_of_a_split_gets_the_frames_times_and_boxes_of_its_own_crops(tmp_path):
    handed_over(tmp_path, "id_1", boxes=True)
    plan = make_plan(tmp_path, [], [Split("id_1", ["a_f000130.jpg", "a_f000140.jpg", "a_f000150.jpg"], "id_2")])
    (kept,), (part,) = plan.metadata["id_1"]["tracks"], plan.metadata["id_2"]["tracks"]
    assert (kept["first_box"], kept["last_box"], kept["segments"]) == (
        [10, 100, 50, 200],
        [70, 100, 110, 200],
        [[100, 120]],
    )
    assert (part["first_box"], part["last_box"], part["segments"]) == (
        [700, 100, 740, 200],
        [640, 100, 680, 200],
        [[130, 150]],
    )
    assert (kept["first_frame"], kept["last_frame"], kept["first_time_s"], kept["last_time_s"]) == (100, 120, 5.0, 6.0)
    assert (part["first_frame"], part["last_frame"], part["first_time_s"], part["last_time_s"]) == (130, 150, 6.5, 7.5)
    assert (kept["frames_seen"], part["frames_seen"], kept["good_crops"], part["good_crops"]) == (21, 21, True, False)


def test_parts_of_a_folder_without_crop_boxes_have_no_ends_to_continue_from(tmp_path):
    handed_over(tmp_path, "id_1", boxes=False)
    plan = make_plan(tmp_path, [], [Split("id_1", ["a_f000130.jpg", "a_f000140.jpg", "a_f000150.jpg"], "id_2")])
    for folder in ("id_1", "id_2"):
        (track,) = plan.metadata[folder]["tracks"]
        assert (track["first_box"], track["last_box"]) == (None, None)  # not the whole track's, which show both people


SPLIT_SNIPPET = """
import sys
from pathlib import Path
from reid.merging import Group, Split, merge, recover
persons = Path(sys.argv[1])
if recover(persons) is None and sys.argv[2] == "merge":
    merge(persons, [Group("id_9", ["id_4"])], splits=[Split("id_1", ["a_f000002.jpg"], "id_9")])
"""


@pytest.mark.parametrize(
    "fault",
    [
        "backup:2",
        "before:created:id_9",
        "created:id_9",
        "moved:0",
        "moved:last",
        "metadata:id_9",
        "removed:id_4",
        "journal_filed",
    ],
)
def test_a_split_killed_at_any_step_is_finished_or_rolled_back(persons, fault):
    contents = content_multiset(persons)
    env = {**os.environ, "REID_FAULT_AT": fault}
    killed = subprocess.run(
        [sys.executable, "-c", SPLIT_SNIPPET, str(persons), "merge"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr
    again = subprocess.run(
        [sys.executable, "-c", SPLIT_SNIPPET, str(persons), "recover"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert content_multiset(persons) == contents  # nothing lost, nothing duplicated
    names = sorted(p.name for p in persons.glob("id_*"))
    if fault == "backup:2":  # before anything moved: rolled back
        assert names == ["id_1", "id_2", "id_3", "id_4"]
    else:
        assert names == ["id_1", "id_2", "id_3", "id_9"]
        assert json.loads((persons / "id_9" / "track.json").read_text())["split_from"] == "id_1"


@pytest.mark.parametrize("fault", ["before:undo:unmade:id_9", "undo:unmade:id_9", "undo:staging_removed"])
def test_the_undo_of_a_split_killed_midway_is_finished(persons, fault):
    before = visible(persons)
    merge(persons, SPLIT_GROUPS, splits=SPLIT)
    code = "import sys; from pathlib import Path; from reid.merging import undo_last; undo_last(Path(sys.argv[1]))"
    killed = subprocess.run(
        [sys.executable, "-c", code, str(persons)],
        cwd=REPO,
        env={**os.environ, "REID_FAULT_AT": fault},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr
    assert "finished" in recover(persons)
    assert visible(persons) == before


# -- temporaries that a writer killed mid-write leaves beside the crops --------------------------


def leave_temporary(folder: Path, of: str, data: bytes) -> str:
    """What a process killed inside ``atomic_write_bytes`` leaves: its hidden temporary file, named
    as that function names it (``.<name>.<8 random characters>.tmp``)."""
    import tempfile

    fd, path = tempfile.mkstemp(dir=folder, prefix=f".{of}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return Path(path).name


def test_temporaries_are_neither_moved_nor_listed_as_crops_and_the_undo_restores_them(persons):
    kept = leave_temporary(persons / "id_1", "a_f000003.jpg", b"half a crop")  # in the survivor
    leave_temporary(persons / "id_2", "b_f000010.jpg", b"half")  # in members, which the merge removes
    leave_temporary(persons / "id_2", "track.json", b'{"sche')
    leave_temporary(persons / "id_3", "notes.txt", b"mi")
    before = visible(persons)
    result = merge(persons, GROUPS)
    assert (result.files_moved, result.folders_removed, result.errors) == (5, 2, [])  # the same 5 files
    assert [p.name for p in (persons / "id_1").iterdir() if p.name.startswith(".")] == [kept]
    crops = [c["file"] for c in json.loads((persons / "id_1" / "track.json").read_text())["crops"]]
    assert not [c for c in crops if c.endswith(".tmp")]
    for name in ("id_1", "id_2", "id_3"):  # the backup holds them all, as they were
        assert tree_hashes(result.backup / name) == {
            k[len(name) + 1 :]: v for k, v in before.items() if k.startswith(f"{name}/")
        }
    undo_last(persons)
    assert visible(persons) == before


def test_a_temporary_left_after_the_merge_does_not_block_the_undo(persons):
    before = visible(persons)
    merge(persons, GROUPS)
    leave_temporary(persons / "id_1", "track.json", b"{")  # e.g. a rewrite of track.json killed midway
    undo_last(persons)
    assert visible(persons) == before
