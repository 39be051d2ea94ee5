"""The scripts killed, starved of disk and run side by side: no crop is ever lost or duplicated.

Each merge test copies a prepared persons folder (real pedestrian crops, embeddings cached
by a dry run so that no run needs the network again), runs ``deeplearningg_reID.py --yes``
in a subprocess that is SIGKILLed at a named step (``REID_FAULT_AT``) or at a random
moment, runs it again, and checks the crops, the backup, the folders and status.json.
Longer runs of the random kills: ``python -m benchmarks.stress``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import cv2
import pytest

from benchmarks.reliability import (
    DUPLICATE_THRESHOLD,
    build_merge_workdir,
    crop_multiset,
    merge_kill_round,
    random_kills,
    run_reid,
    verify_after_rerun,
    warm_cache,
)
from conftest import REPO, assert_clean_error, run_script, tree_hashes, unavailable, wait_until
from reid.core.status import parse_status

pytestmark = pytest.mark.slow  # scripts killed and disks filled: every test runs the scripts, most of them twice


@pytest.fixture(scope="module")
def template(tmp_path_factory, labelled_crops, mobilenet_v2) -> Path:
    work = build_merge_workdir(labelled_crops, tmp_path_factory.mktemp("merge") / "template")
    warm_cache(work, mobilenet_v2)
    return work


# Every step of a merge that leaves something different on disk, named by kind where a
# step repeats (the first renamed move, the last move, the first member removed ...).
KILL_POINTS = [
    "begin",  # the plan is journaled, nothing else
    "backup_file:3",
    "backup_file:20",  # in the middle of copying a folder
    "backup:1",
    "backup:3",
    "backup:4",  # after whole folders (4 take part)
    "manifest:merging",
    "backup_verified",
    "linked:renamed",
    "moved:renamed",  # a crop that needs a new name (same name in both folders)
    "linked:plain",
    "moved:plain",  # a crop or a user's file that keeps its name
    "moved:last",
    "before:metadata:id_1",
    "metadata",
    "metadata:id_3",  # the first survivor's track.json written, not journaled
    "removing",
    "removed",
    "removed:id_4",  # a member folder half and wholly removed
    "manifest:merged",
    "done",
    "journal_filed",
    "script:merged",  # the merge is complete, status.json not yet told
]


@pytest.mark.parametrize("fault", KILL_POINTS)
def test_a_merge_killed_at_each_step_is_finished_by_the_next_run(template, mobilenet_v2, tmp_path, fault):
    stage, code, problems = merge_kill_round(template, tmp_path / "work", mobilenet_v2, fault=fault)
    assert code == -signal.SIGKILL, f"the run was not killed at {fault} ({stage})"
    assert problems == []


def _kind(name: str) -> str:
    """``backup_file:17`` -> ``backup_file``: numbered repeats of a step are one kind of step."""
    head, _, tail = name.rpartition(":")
    return head if head and tail.isdigit() else name


def test_the_kill_tests_cover_every_step_of_a_merge_and_an_undo(template, mobilenet_v2, tmp_path, monkeypatch):
    from test_merge import FAULT_POINTS, UNDO_FAULTS

    killed_at = set(KILL_POINTS) | set(FAULT_POINTS) | set(UNDO_FAULTS)
    work = shutil.copytree(template, tmp_path / "work", copy_function=shutil.copy2)
    trace = tmp_path / "steps.jsonl"
    monkeypatch.setenv("REID_FAULT_TRACE", str(trace))
    assert run_reid(work, mobilenet_v2, "--yes").returncode == 0
    assert run_reid(work, mobilenet_v2, "--undo").returncode == 0
    steps = [tuple(json.loads(line)) for line in trace.read_text().splitlines()]
    # a kind of step is covered when one instance of it is killed (by any of its names)
    killed_kinds = {_kind(n) for names in steps if set(names) & killed_at for n in names}
    killed_kinds |= {_kind(name) for name in killed_at}
    uncovered = sorted(
        {names for names in steps if not (set(names) & killed_at) and not ({_kind(n) for n in names} & killed_kinds)}
    )
    assert uncovered == []
    assert len(steps) > 40  # a whole merge and undo were traced


def test_the_check_itself_catches_a_lost_a_duplicated_and_a_changed_crop(template, mobilenet_v2, tmp_path):
    work = shutil.copytree(template, tmp_path / "work", copy_function=shutil.copy2)
    assert run_reid(work, mobilenet_v2, "--yes").returncode == 0
    assert verify_after_rerun(template, work) == []
    crop = sorted((work / "persons" / "id_1").glob("*.png"))[0]
    saved = crop.read_bytes()
    crop.unlink()
    assert "lost or duplicated" in verify_after_rerun(template, work)[0]
    crop.write_bytes(saved)
    shutil.copy(crop, work / "persons" / "id_7" / "copy.png")
    assert "lost or duplicated" in verify_after_rerun(template, work)[0]
    (work / "persons" / "id_7" / "copy.png").unlink()
    backup_crop = next((work / "persons" / "backup_before_merge").glob("*/id_2/*.png"))
    backup_crop.write_bytes(b"damaged")
    assert any("backup of id_2" in p for p in verify_after_rerun(template, work))


def test_merges_killed_at_random_moments_lose_nothing(template, mobilenet_v2, tmp_path):
    seed = int(os.environ.get("REID_STRESS_SEED", random.randrange(1 << 30)))
    results = random_kills(template, tmp_path, mobilenet_v2, rounds=8, seed=seed)
    broken = [(stage, problems) for stage, _, problems in results if problems]
    assert broken == [], f"seed {seed} (rerun with REID_STRESS_SEED={seed})"
    assert all(code == -signal.SIGKILL or stage == "after the merge" for stage, code, _ in results)


def test_a_full_disk_while_writing_metadata_stops_cleanly_and_the_next_run_finishes(template, mobilenet_v2, tmp_path):
    work = shutil.copytree(template, tmp_path / "work", copy_function=shutil.copy2)
    failed = run_reid(work, mobilenet_v2, "--yes", fault="enospc@before:metadata:id_1")
    assert_clean_error(failed, 1, "No space left on device")
    assert "no crop was lost" in failed.stderr
    assert crop_multiset(work / "persons") == crop_multiset(template / "persons")
    assert (work / "persons" / "id_2").is_dir() and (work / "persons" / "id_4").is_dir()  # nothing removed
    again = run_reid(work, mobilenet_v2, "--yes")
    assert again.returncode == 0, again.stderr
    assert verify_after_rerun(template, work) == []


def test_a_full_disk_during_the_backup_changes_nothing(template, mobilenet_v2, tmp_path):
    work = shutil.copytree(template, tmp_path / "work", copy_function=shutil.copy2)
    before = tree_hashes(work / "persons")
    failed = run_reid(work, mobilenet_v2, "--yes", fault="enospc@backup:2")
    assert_clean_error(failed, 1, "No space left on device); nothing was changed")
    after = tree_hashes(work / "persons")  # the lease is gone with the run: nothing left beside the folders
    assert after == before
    assert parse_status((work / "status.json").read_text())["reid"]["state"] == "failed"


@pytest.fixture
def small_disk(tmp_path):
    """A real filesystem of limited size (tmpfs), where the machine allows mounting one."""
    if os.geteuid() != 0:
        unavailable("mounting a small filesystem needs root")
    mounts = []

    def mount(path: Path, size_kb: int) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", f"small-{uuid.uuid4().hex[:6]}", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            unavailable(f"cannot mount a tmpfs: {done.stderr.strip()}")
        mounts.append(path)
        return path

    yield mount
    for path in reversed(mounts):
        subprocess.run(["umount", "-l", str(path)], check=False)


def used_kb(root: Path) -> int:
    return sum(-(-p.stat().st_size // 4096) * 4 for p in root.rglob("*") if p.is_file())


def test_a_really_full_disk_during_the_backup_changes_nothing(template, mobilenet_v2, tmp_path, small_disk):
    disk = small_disk(tmp_path / "disk", used_kb(template) + 64)  # the folders fit, their backup (~200 kB) not
    work = shutil.copytree(template, disk / "work", copy_function=shutil.copy2)
    before = {k: v for k, v in tree_hashes(work / "persons").items()}
    failed = run_reid(work, mobilenet_v2, "--yes")
    assert_clean_error(failed, 1, "No space left on device")
    assert "nothing was changed" in failed.stderr
    after = tree_hashes(work / "persons")  # the lease is gone with the run: nothing left beside the folders
    assert after == before
    assert not any((work / "persons" / "backup_before_merge").iterdir())


def test_obj_counting_on_a_full_disk_stops_with_one_line(video, detector, tmp_path, small_disk):
    persons = small_disk(tmp_path / "persons", 48)
    proc = run_script(
        "obj_counting.py",
        "--videos",
        video,
        "--model",
        detector,
        "--max-frames",
        250,
        "--persons",
        persons,
        cwd=tmp_path,
        timeout=300,
    )
    assert_clean_error(proc, 1, "No space left on device")
    status = parse_status((tmp_path / "status.json").read_text())
    assert status["counting"]["state"] == "failed"


# -- obj_counting.py killed mid-video -------------------------------------------------------


def test_obj_counting_killed_mid_video_is_done_again_with_its_partial_folders_replaced(video, detector, tmp_path):
    base = ["--videos", video, "--model", detector, "--no-progress"]
    first = run_script("obj_counting.py", *base, "--max-frames", 220, cwd=tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    persons = tmp_path / "persons"
    earlier = {p.name: tree_hashes(p) for p in persons.glob("id_*")}
    assert sorted(earlier) == ["id_1"]

    # the whole video this time (the first run did 220 frames of it), killed past the second person
    process = subprocess.Popen(
        [sys.executable, str(REPO / "obj_counting.py"), *map(str, base)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )

    def frames_done() -> int:
        try:
            return parse_status((tmp_path / "status.json").read_text())["counting"].get("frames_done") or 0
        except Exception:  # noqa: BLE001 - a status written by the previous run or not yet parseable
            return 0

    try:
        wait_until(lambda: frames_done() >= 480 or process.poll() is not None, "480 frames tracked")
    except BaseException:
        process.kill()  # the hang guard failed the test: leave no run behind
        raise
    assert process.poll() is None, process.stderr.read()
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert parse_status((tmp_path / "status.json").read_text())["counting"]["state"] == "running"
    killed = {p.name: tree_hashes(p) for p in persons.glob("id_*")}
    assert len(killed) >= 2 and not set(killed) & set(earlier)  # the first run's folder was replaced ...
    for crop in persons.glob("id_*/*.jpg"):  # ... and whatever the killed run left is whole
        assert cv2.imread(str(crop)) is not None, crop
    for meta in persons.glob("id_*/track.json"):
        assert json.loads(meta.read_text())["video_name"] == video.name, meta
    # a SIGKILL may land inside an atomic write (its fsyncs take a while on a busy machine): then only
    # its hidden temporary file stays beside the whole file, which every reader leaves out
    assert all(p.name.startswith(".") for p in persons.rglob("*.tmp"))

    third = run_script("obj_counting.py", *base, "--max-frames", 220, cwd=tmp_path, timeout=300)
    assert third.returncode == 0, third.stderr
    assert "its earlier folders were replaced" in third.stdout  # the killed run's partial folders
    final = sorted(p.name for p in persons.glob("id_*"))
    assert len(final) == 1 and int(final[0][3:]) > max(int(n[3:]) for n in [*earlier, *killed])  # no duplicate
    replaced = {p.name: tree_hashes(p) for p in (persons / "backup_before_merge").glob("*-replaced/id_*")}
    assert replaced == {**earlier, **killed}  # nothing deleted: every replaced folder kept, byte for byte
    assert parse_status((tmp_path / "status.json").read_text())["counting"]["state"] == "done"


# -- both scripts at once ---------------------------------------------------------------------


def test_both_scripts_writing_status_json_at_once_lose_no_section(video, detector, template, mobilenet_v2, tmp_path):
    status_file = tmp_path / "status.json"
    merge_work = shutil.copytree(template, tmp_path / "reid", copy_function=shutil.copy2)
    shutil.rmtree(merge_work / "persons" / ".reid_cache")  # make it compute, so the two runs overlap
    (merge_work / "status.json").unlink(missing_ok=True)
    stop = threading.Event()
    seen: list[str] = []
    invalid: list[str] = []

    def watch() -> None:
        while not stop.is_set():  # bounded by the two runs below (timeouts)
            try:
                text = status_file.read_text()
            except FileNotFoundError:
                continue
            try:
                data = parse_status(text)
            except Exception as exc:  # noqa: BLE001
                invalid.append(f"{exc}: {text[:200]}")
                continue
            seen.extend(s for s in ("counting", "processing", "reid") if data[s].get("state") == "running")
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        counting = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "obj_counting.py"),
                "--videos",
                str(video),
                "--model",
                str(detector),
                "--max-frames",
                "300",
                "--status",
                str(status_file),
                "--no-progress",
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        reid = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "deeplearningg_reID.py"),
                "--backbone",
                "mobilenetv2",
                "--weights",
                str(mobilenet_v2),
                "--threshold",
                DUPLICATE_THRESHOLD,
                "--dry-run",
                "--status",
                str(status_file),
                "--no-progress",
            ],
            cwd=merge_work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        counted_out, counted_err = counting.communicate(timeout=600)
        reid_out, reid_err = reid.communicate(timeout=600)
    finally:
        stop.set()
        watcher.join()
    assert counting.returncode == 0, counted_err
    assert reid.returncode == 0, reid_err
    assert invalid == []
    assert {"counting", "processing"} <= set(seen)  # they really ran at the same time as the watcher
    status = parse_status(status_file.read_text())
    assert status["counting"]["state"] == "done" and status["counting"]["persons"] == 2
    assert status["processing"]["state"] == "done"
    assert status["reid"]["state"] == "done" and status["reid"]["groups_proposed"] == 2
