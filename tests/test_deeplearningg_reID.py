"""deeplearningg_reID.py end to end: real files, the real TensorFlow model, genuine ImageNet weights.

The persons folder is built from real pedestrian crops: an exact duplicate of a folder
must be merged; an identical pair whose tracks were visible at the same time must not.
Folders are compared by the mean similarity over all their pairs of crops: a copy scores
0.72-0.74 here, different people at most 0.67, so DUPLICATE_THRESHOLD (0.70) makes the
expected plan unambiguous.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.reliability import DUPLICATE_THRESHOLD
from conftest import REPO, assert_clean_error, run_script, tree_hashes, unavailable


def meta(person_id: int, first: int, last: int, crops: list[str]) -> dict:
    return {
        "schema": 1,
        "person_id": person_id,
        "run_id": "run-1",
        "video": "/videos/hall.mp4",
        "tracker_id": person_id,
        "first_frame": first,
        "last_frame": last,
        "segments": [[first, last]],
        "crops": [{"file": c, "frame": first + i} for i, c in enumerate(crops)],
    }


@pytest.fixture
def workdir(tmp_path, labelled_crops, mobilenet_v2):
    """persons/: id_1 and id_2 show person 001 (identical crops, one after the other);
    id_3 and id_4 show person 003 (identical crops, visible at the same time); id_108.0 is
    a legacy folder (no metadata) of person 007."""
    persons = tmp_path / "persons"

    def folder(name: str, pid: str, metadata: dict | None) -> None:
        (persons / name).mkdir(parents=True)
        for image in sorted((labelled_crops / pid).glob("01_*.png")):
            shutil.copy2(image, persons / name / image.name)
        if metadata:
            (persons / name / "track.json").write_text(json.dumps(metadata))

    crops = [p.name for p in sorted((labelled_crops / "001").glob("01_*.png"))]
    folder("id_1", "001", meta(1, 0, 50, crops))
    folder("id_2", "001", meta(2, 100, 150, crops))
    folder("id_3", "003", meta(3, 0, 50, crops))
    folder("id_4", "003", meta(4, 20, 40, crops))
    folder("id_108.0", "007", None)
    return tmp_path


def reid(workdir: Path, *args, weights: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    base = ["--backbone", "mobilenetv2", "--threshold", DUPLICATE_THRESHOLD]
    if weights is not None:
        base += ["--weights", weights]
    return run_script("deeplearningg_reID.py", *base, *args, cwd=workdir, **kwargs)


def person_files(workdir: Path) -> dict[str, str]:
    return {k: v for k, v in tree_hashes(workdir / "persons").items() if not k.startswith(("backup_before_merge", "."))}


def crop_multiset(workdir: Path) -> collections.Counter:
    return collections.Counter(v for k, v in person_files(workdir).items() if k.endswith(".png"))


@pytest.mark.slow
def test_dry_run_shows_the_plan_and_changes_nothing(workdir, mobilenet_v2):
    before = person_files(workdir)
    proc = reid(workdir, "--dry-run", weights=mobilenet_v2)
    assert proc.returncode == 0, proc.stderr
    assert "1. id_1 (8 crops)  <-  id_2 (8 crops)" in proc.stdout
    assert re.search(r"similarity min 0\.7\d\d  mean 0\.7\d\d", proc.stdout)  # 8 views of one person
    assert "id_3" not in proc.stdout.split("Proposed merges")[1]  # co-occurring: never proposed
    assert "Dry run: nothing was changed." in proc.stdout
    assert person_files(workdir) == before


def test_without_a_terminal_and_without_yes_nothing_is_merged(workdir, mobilenet_v2):
    before = person_files(workdir)
    proc = reid(workdir, weights=mobilenet_v2)
    assert_clean_error(proc, 1, "standard input is not a terminal. Nothing was merged")
    assert person_files(workdir) == before
    # decided before any work: nothing was embedded, and the monitor was told nothing
    assert not (workdir / "persons" / ".reid_cache").exists() and not (workdir / "status.json").exists()


@pytest.mark.slow
def test_a_dry_run_after_a_killed_merge_changes_nothing_and_says_what_the_next_run_will_do(workdir, mobilenet_v2):
    killed = subprocess.run(
        [
            sys.executable,
            str(REPO / "deeplearningg_reID.py"),
            "--backbone",
            "mobilenetv2",
            "--weights",
            str(mobilenet_v2),
            "--threshold",
            DUPLICATE_THRESHOLD,
            "--yes",
        ],
        cwd=workdir,
        env={**os.environ, "REID_FAULT_AT": "linked:3"},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert killed.returncode == -9

    def files() -> dict[str, str]:  # all but the lease, which the killed run left and the dry run took
        return {k: v for k, v in tree_hashes(workdir / "persons").items() if not k.startswith(".lease")}

    before = files()
    dry = reid(workdir, "--dry-run", weights=mobilenet_v2)
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: an interrupted merge of 1 group is pending: the next run will finish it" in dry.stdout
    assert files() == before  # not one file moved, the journal still there
    again = reid(workdir, "--yes", weights=mobilenet_v2)
    assert "Note: an interrupted merge was finished" in again.stdout


@pytest.mark.slow
def test_the_printed_undo_command_undoes_this_merge_and_no_other(workdir, mobilenet_v2, labelled_crops):
    other = workdir / "elsewhere"
    shutil.copytree(workdir / "persons", other / "persons")
    assert reid(workdir, "--yes", weights=mobilenet_v2).returncode == 0  # a merge in ./persons first
    default_after = person_files(workdir)
    before = {k: v for k, v in tree_hashes(other / "persons").items() if k.startswith("id")}
    proc = reid(
        workdir, "--yes", "--persons", other / "persons", "--status", other / "status.json", weights=mobilenet_v2
    )
    assert proc.returncode == 0, proc.stderr
    (command,) = [line.split("Undo with: ", 1)[1] for line in proc.stdout.splitlines() if "Undo with: " in line]
    assert "--persons" in command and "--status" in command
    undone = subprocess.run(
        shlex.split(command), cwd=workdir, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert undone.returncode == 0, undone.stderr
    assert {k: v for k, v in tree_hashes(other / "persons").items() if k.startswith("id")} == before
    assert person_files(workdir) == default_after  # the earlier merge in ./persons stays merged


def answer_at_terminal(workdir: Path, answer: str, weights: Path) -> subprocess.CompletedProcess:
    """Run the script with a pseudo-terminal as standard input and type ``answer``."""
    primary, secondary = os.openpty()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "deeplearningg_reID.py"),
                "--backbone",
                "mobilenetv2",
                "--threshold",
                DUPLICATE_THRESHOLD,
                "--weights",
                str(weights),
                "--no-progress",
            ],
            cwd=workdir,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(primary, (answer + "\n").encode())  # the terminal buffers it until the prompt reads
        out, err = process.communicate(timeout=300)
    finally:
        os.close(secondary)
        os.close(primary)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.slow
def test_answering_n_changes_nothing(workdir, mobilenet_v2):
    before = person_files(workdir)
    proc = answer_at_terminal(workdir, "n", mobilenet_v2)
    assert proc.returncode == 0, proc.stderr
    assert "Merge 1 group (2 folders)? [y/N] " in proc.stdout and "Nothing was merged." in proc.stdout
    assert person_files(workdir) == before
    assert not (workdir / "persons" / "backup_before_merge").exists()


@pytest.mark.slow
def test_answering_y_merges_the_duplicate_and_keeps_a_verified_backup(workdir, mobilenet_v2):
    before = person_files(workdir)
    crops_before = crop_multiset(workdir)
    proc = answer_at_terminal(workdir, "y", mobilenet_v2)
    assert proc.returncode == 0, proc.stderr
    assert "Merged 1 group: 5 -> 4 person folders, 8 files moved." in proc.stdout
    persons = workdir / "persons"
    assert sorted(p.name for p in persons.glob("id_*")) == ["id_1", "id_108.0", "id_3", "id_4"]
    assert len(list((persons / "id_1").glob("*.png"))) == 16
    assert crop_multiset(workdir) == crops_before  # nothing lost, nothing duplicated
    (backup,) = (persons / "backup_before_merge").iterdir()
    assert {k: v for k, v in tree_hashes(backup).items() if k.startswith(("id_1/", "id_2/"))} == {
        k: v for k, v in before.items() if k.startswith(("id_1/", "id_2/"))
    }
    status = json.loads((workdir / "status.json").read_text())
    assert status["processing"]["state"] == "done"
    reid_section = status["reid"]
    assert (
        reid_section["folders_before"],
        reid_section["folders_after"],
        reid_section["groups_merged"],
        reid_section["images_moved"],
        reid_section["threshold"],
    ) == (5, 4, 1, 8, float(DUPLICATE_THRESHOLD))
    merged = json.loads((persons / "id_1" / "track.json").read_text())
    assert merged["merged_from"] == ["id_2"] and len(merged["tracks"]) == 2 and len(merged["crops"]) == 16


@pytest.mark.slow
def test_yes_merges_and_undo_restores_byte_for_byte(workdir, mobilenet_v2):
    before = person_files(workdir)
    proc = reid(workdir, "--yes", weights=mobilenet_v2)
    assert proc.returncode == 0, proc.stderr
    assert person_files(workdir) != before
    undone = run_script("deeplearningg_reID.py", "--undo", cwd=workdir)
    assert undone.returncode == 0, undone.stderr
    assert "Restored 2 folders (id_1, id_2)" in undone.stdout
    assert person_files(workdir) == before
    status = json.loads((workdir / "status.json").read_text())  # both sections: this folder, and which run
    assert status["reid"]["persons_dir"] == status["processing"]["persons_dir"] == str((workdir / "persons").resolve())
    assert status["reid"]["undone"] and status["reid"]["undo_run_id"] == status["processing"]["run_id"]
    assert status["reid"]["run_id"] != status["processing"]["run_id"]  # the merge's run, then the undo's


@pytest.mark.slow
def test_a_merge_killed_midway_is_finished_by_the_next_run(workdir, mobilenet_v2):
    crops_before = crop_multiset(workdir)
    env_fault = {**os.environ, "REID_FAULT_AT": "linked:3"}
    killed = subprocess.run(
        [
            sys.executable,
            str(REPO / "deeplearningg_reID.py"),
            "--backbone",
            "mobilenetv2",
            "--weights",
            str(mobilenet_v2),
            "--threshold",
            DUPLICATE_THRESHOLD,
            "--yes",
        ],
        cwd=workdir,
        env=env_fault,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert killed.returncode == -9
    again = reid(workdir, "--yes", weights=mobilenet_v2)
    assert again.returncode == 0, again.stderr
    assert "Note: an interrupted merge was finished" in again.stdout
    assert "nothing to merge" in again.stdout
    assert crop_multiset(workdir) == crops_before
    assert sorted(p.name for p in (workdir / "persons").glob("id_*")) == ["id_1", "id_108.0", "id_3", "id_4"]


@pytest.mark.slow
def test_a_second_run_embeds_only_new_crops(workdir, mobilenet_v2, labelled_crops):
    first = reid(workdir, "--dry-run", "-v", weights=mobilenet_v2)  # -v: each step is logged
    assert "embedded 40 images (0 from the cache)" in first.stderr
    second = reid(workdir, "--dry-run", "-v", weights=mobilenet_v2)
    assert "embedded 40 images (40 from the cache)" in second.stderr
    assert "the network was not loaded" in second.stderr and "the network was not loaded" not in first.stderr
    shutil.copy2(labelled_crops / "007" / "02_1.png", workdir / "persons" / "id_108.0" / "02_1.png")
    grown = reid(workdir, "--dry-run", "-v", weights=mobilenet_v2)
    assert "embedded 41 images (40 from the cache)" in grown.stderr
    other_model = reid(workdir, "--dry-run", "-v", "--input-size", "224x112", weights=mobilenet_v2)
    assert "embedded 41 images (0 from the cache)" in other_model.stderr


@pytest.mark.slow
def test_unreadable_and_non_image_files_are_recorded_and_skipped(workdir, mobilenet_v2):
    persons = workdir / "persons"
    (persons / "id_3" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (persons / "id_3" / "empty.png").write_bytes(b"")
    (persons / "id_3" / "readme.txt").write_text("not an image")
    proc = reid(workdir, "--dry-run", weights=mobilenet_v2)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = json.loads((workdir / "status.json").read_text())["reid"]["errors"]
    assert sorted(Path(e["path"]).name for e in errors) == ["broken.jpg", "empty.png"]
    assert sorted(e["message"].split(": ", 1)[1] for e in errors) == ["empty file (0 bytes)", "not a readable image"]
    assert (persons / "id_3" / "broken.jpg").exists() and (persons / "id_3" / "readme.txt").exists()


def test_a_read_only_persons_folder_stops_cleanly_and_loses_nothing(workdir, mobilenet_v2):
    persons = workdir / "persons"
    before = person_files(workdir)
    if os.geteuid() == 0:
        bound = subprocess.run(["mount", "--bind", "-o", "ro", str(persons), str(persons)], capture_output=True)
        if bound.returncode != 0:
            unavailable("cannot make a read-only folder as root here")
    else:
        for p in [persons, *persons.iterdir()]:
            p.chmod(0o555)
    try:
        proc = reid(workdir, "--yes", weights=mobilenet_v2)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(persons)], check=False)
    assert_clean_error(proc, 1, "cannot write in persons")
    assert person_files(workdir) == before


@pytest.mark.slow
def test_missing_persons_folder(tmp_path):
    assert_clean_error(
        run_script("deeplearningg_reID.py", cwd=tmp_path),
        1,
        "persons folder persons does not exist: run obj_counting.py first",
    )


@pytest.mark.slow
def test_empty_persons_folder(tmp_path):
    (tmp_path / "persons").mkdir()
    assert_clean_error(run_script("deeplearningg_reID.py", cwd=tmp_path), 1, "no person folders in persons")


@pytest.mark.slow
def test_a_single_folder(tmp_path, labelled_crops):
    shutil.copytree(labelled_crops / "001", tmp_path / "persons" / "id_1")
    assert_clean_error(
        run_script("deeplearningg_reID.py", cwd=tmp_path),
        1,
        "only one person folder has images in persons: nothing to compare",
    )


@pytest.mark.slow
def test_folders_without_images(tmp_path):
    for name in ("id_1", "id_2"):
        (tmp_path / "persons" / name).mkdir(parents=True)
        (tmp_path / "persons" / name / "notes.txt").write_text("x")
    assert_clean_error(run_script("deeplearningg_reID.py", cwd=tmp_path), 1, "no person folder has images")


def test_a_missing_weights_file(workdir):
    proc = reid(workdir, "--dry-run", weights=workdir / "nope.h5")
    assert_clean_error(proc, 1, "weights file")
    assert "nope.h5 not found" in proc.stderr
    assert not (workdir / "status.json").exists()  # a mistyped flag is not a failed stage for the monitor


@pytest.mark.slow
def test_imagenet_weights_offline_name_the_file_and_where_to_put_it(workdir, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(workdir / "keras"))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    proc = run_script("deeplearningg_reID.py", "--dry-run", cwd=workdir)
    assert_clean_error(proc, 1, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert str(workdir / "keras" / "models") in proc.stderr


@pytest.mark.slow
def test_a_weights_file_of_the_wrong_network(workdir, mobilenet_v2):
    proc = run_script("deeplearningg_reID.py", "--dry-run", "--weights", mobilenet_v2, cwd=workdir)
    assert_clean_error(proc, 1, "cannot load weights")


@pytest.mark.slow
def test_random_weights_warn_loudly(workdir):
    proc = run_script(
        "deeplearningg_reID.py",
        "--dry-run",
        "--backbone",
        "mobilenetv2",
        "--weights",
        "none",
        "--threshold",
        DUPLICATE_THRESHOLD,
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr
    assert "RANDOM WEIGHTS" in proc.stderr


def test_a_malformed_status_file(workdir):
    (workdir / "status.json").write_text("[]")
    proc = run_script("deeplearningg_reID.py", "--dry-run", cwd=workdir)
    assert_clean_error(proc, 1, "status.json must hold a JSON object")
    assert (workdir / "status.json").read_text() == "[]"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--threshold", "2"], "threshold must be between -1 and 1"),
        (["--input-size", "256"], "--input-size must look like 256x128"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--backbone", "vgg16"], "invalid choice: 'vgg16'"),
        (["--yes", "--dry-run"], "not allowed with argument"),
    ],
)
def test_bad_flags(tmp_path, args, fragment):
    assert_clean_error(run_script("deeplearningg_reID.py", *args, cwd=tmp_path), 2, fragment)


def test_help_documents_every_flag(tmp_path):
    proc = run_script("deeplearningg_reID.py", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    for flag in (
        "--persons",
        "--status",
        "--threshold",
        "--backbone",
        "--weights",
        "--batch-size",
        "--yes",
        "--dry-run",
        "--undo",
        "--input-size",
        "--start-times",
    ):
        assert flag in proc.stdout


def leave_temporary(folder: Path, of: str, data: bytes) -> str:
    """What a process SIGKILLed inside an atomic write leaves: its hidden temporary, named as
    ``reid.core.files.atomic_write_bytes`` names it (``.<name>.<8 random characters>.tmp``)."""
    import tempfile

    fd, path = tempfile.mkstemp(dir=folder, prefix=f".{of}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return Path(path).name


@pytest.mark.slow
def test_temporaries_of_killed_writes_are_not_merged_as_crops_and_undo_restores_every_file(workdir, mobilenet_v2):
    persons = workdir / "persons"
    crop = sorted((persons / "id_2").glob("*.png"))[0].read_bytes()
    survivor_own = leave_temporary(persons / "id_1", "01_9.png", crop[: len(crop) // 2])
    leave_temporary(persons / "id_2", "01_9.png", crop)  # killed after writing, before the rename
    leave_temporary(persons / "id_2", "track.json", b'{"schema": 1, "per')
    before = person_files(workdir)
    crops_before = crop_multiset(workdir)
    proc = reid(workdir, "--yes", weights=mobilenet_v2)
    assert proc.returncode == 0, proc.stderr
    assert "Merged 1 group: 5 -> 4 person folders, 8 files moved." in proc.stdout  # the crops only
    assert not (persons / "id_2").exists() and crop_multiset(workdir) == crops_before
    assert [p.name for p in (persons / "id_1").iterdir() if p.name.startswith(".")] == [survivor_own]
    merged = [c["file"] for c in json.loads((persons / "id_1" / "track.json").read_text())["crops"]]
    assert len(merged) == 16 and not [name for name in merged if name.endswith(".tmp")]
    undone = run_script("deeplearningg_reID.py", "--undo", cwd=workdir)
    assert undone.returncode == 0, undone.stderr
    assert person_files(workdir) == before  # every file byte for byte, the temporaries as they were


def test_a_folder_a_killed_tracking_run_never_finished_is_left_out_and_named(workdir, mobilenet_v2):
    """id_2 holds a partial track (track.json ``complete: false``, its run was killed): merging it
    would keep the re-run of its video from replacing it, so the merge leaves it out and says so."""
    metadata_path = workdir / "persons" / "id_2" / "track.json"
    metadata_path.write_text(json.dumps({**json.loads(metadata_path.read_text()), "complete": False}))
    before = person_files(workdir)
    proc = reid(workdir, "--dry-run", weights=mobilenet_v2)
    assert proc.returncode == 0, proc.stderr
    assert "left out 1 folder that a killed tracking run never finished (id_2)" in proc.stderr
    assert "id_2" not in proc.stdout.split("Proposed merges")[-1]
    assert person_files(workdir) == before
