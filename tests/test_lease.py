"""The persons folder's lease: shared by tracking runs, exclusive for a merge, never left blocking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from reid.core.lease import Lease, PersonsBusyError, holders

HOLD = """
import sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from reid.core.lease import Lease
lease = Lease(Path(sys.argv[1]), sys.argv[2], program=sys.argv[3])
lease.exclusive() if sys.argv[4] == "exclusive" else lease.shared()
print("held", flush=True)
time.sleep(120)
"""


def hold(persons: Path, action: str, program: str, mode: str) -> subprocess.Popen:
    """Another process holding the lease until it is killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(repo=str(REPO)), str(persons), action, program, mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_tracking_runs_share_the_folder(tmp_path):
    with Lease(tmp_path, "tracking").shared() as first, Lease(tmp_path, "tracking").shared():
        assert [h.action for h in first.others()] == ["tracking"]


def test_a_merge_is_refused_while_tracking_holds_the_folder_and_names_it(tmp_path):
    tracking = hold(tmp_path, "tracking", "obj_counting.py", "shared")
    try:
        with pytest.raises(PersonsBusyError) as refused:
            Lease(tmp_path, "merging").exclusive()
        assert f"is in use by obj_counting.py (tracking, pid {tracking.pid}, since 20" in str(refused.value)
        assert "nothing was changed" in str(refused.value)
    finally:
        tracking.kill()
        tracking.wait()


def test_tracking_is_refused_while_a_merge_holds_the_folder(tmp_path):
    merging = hold(tmp_path, "merging", "deeplearningg_reID.py", "exclusive")
    try:
        with pytest.raises(PersonsBusyError, match=r"deeplearningg_reID.py \(merging, pid \d+"):
            Lease(tmp_path, "tracking").shared()
    finally:
        merging.kill()
        merging.wait()


def test_a_killed_holder_blocks_nobody_and_its_note_is_cleaned_up(tmp_path):
    merging = hold(tmp_path, "merging", "deeplearningg_reID.py", "exclusive")
    merging.send_signal(signal.SIGKILL)
    merging.wait()
    assert len(list(tmp_path.glob(".lease.*.json"))) == 1  # left behind by the kill ...
    assert holders(tmp_path) == []  # ... but it names nobody
    with Lease(tmp_path, "tracking").shared():
        pass
    with Lease(tmp_path, "merging").exclusive():
        assert list(tmp_path.glob(".lease.*.json")) != [] and holders(tmp_path)[0].pid == os.getpid()
    assert list(tmp_path.iterdir()) == []  # the last holder out leaves nothing behind


def test_a_note_of_a_dead_process_is_not_a_holder(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / f".lease.{dead.stdout.strip()}-abc.json").write_text(
        json.dumps({"program": "obj_counting.py", "action": "tracking", "pid": int(dead.stdout), "since": "then"})
    )
    (tmp_path / ".lease.1-torn.json").write_text('{"program": "obj_co')
    assert holders(tmp_path) == []


def test_only_one_exclusive_holder_at_a_time_across_many_processes(tmp_path):
    code = f"""
import os, sys, time
sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from reid.core.lease import Lease, PersonsBusyError
folder, log, turns = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + 240  # a hang guard: a process that never gets its turns fails the test
taken = 0
while taken < turns:
    if time.monotonic() > deadline:
        sys.exit(f"hang guard: {{taken}} of {{turns}} turns after 240 s")
    try:
        lease = Lease(folder, "merging").exclusive()
    except PersonsBusyError:
        time.sleep(0.001)
        continue
    with lease, open(log, "a") as handle:
        handle.write(f"in {{os.getpid()}}\\n"); handle.flush()
        time.sleep(0.002)  # a window in which a second holder would show
        handle.write(f"out {{os.getpid()}}\\n"); handle.flush()
    taken += 1
"""
    log = tmp_path / "log"
    folder = tmp_path / "persons"
    folder.mkdir()
    turns = 10
    workers = [subprocess.Popen([sys.executable, "-c", code, str(folder), str(log), str(turns)]) for _ in range(4)]
    for worker in workers:
        assert worker.wait(timeout=300) == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 4 * turns * 2  # every process had all its turns
    for entered, left in zip(lines[0::2], lines[1::2], strict=True):  # strictly alternating: never two inside
        assert entered.startswith("in ") and left == "out " + entered[3:]


def test_a_read_only_folder_is_one_clear_error(tmp_path, readonly_dir):
    from reid.core.errors import OutputError

    with pytest.raises(OutputError, match="cannot write in .*nothing was changed"):
        Lease(readonly_dir, "merging").exclusive()
