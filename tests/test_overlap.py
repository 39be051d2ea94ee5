"""The scripts run at the same time on one persons folder, and a merge waiting for its answer.

Tracking holds the folder's lease for its whole run, so a merge or undo refuses (a dry run
shows a provisional plan); a merge waiting at its y/n prompt holds it too, so tracking
refuses. Waiting for a person is a live state for the monitor, and Ctrl-C is ``interrupted``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.reliability import DUPLICATE_THRESHOLD
from conftest import REPO, assert_clean_error, run_script, tree_hashes, wait_until
from reid.core.status import parse_status
from reid.monitor.health import assess

pytestmark = pytest.mark.slow  # every test runs two scripts at once on real data


def meta(person_id: int, first: int, crops: list[str]) -> dict:
    return {
        "schema": 1,
        "person_id": person_id,
        "run_id": "run-1",
        "video": "/videos/hall.mp4",
        "segments": [[first, first + 50]],
        "crops": [{"file": c, "frame": first + i} for i, c in enumerate(crops)],
    }


@pytest.fixture
def workdir(tmp_path, labelled_crops):
    """persons/ whose merge is known: id_2 is a later track of id_1's person (the same crops)."""
    persons = tmp_path / "persons"
    for name, pid, first in (("id_1", "001", 0), ("id_2", "001", 100), ("id_3", "003", 0)):
        (persons / name).mkdir(parents=True)
        crops = []
        for image in sorted((labelled_crops / pid).glob("01_*.png")):
            shutil.copy2(image, persons / name / image.name)
            crops.append(image.name)
        (persons / name / "track.json").write_text(json.dumps(meta(int(name[3:]), first, crops)))
    return tmp_path


def reid_args(weights: Path) -> list[str]:
    return ["--backbone", "mobilenetv2", "--threshold", DUPLICATE_THRESHOLD, "--weights", str(weights), "--no-progress"]


def user_files(workdir: Path) -> dict[str, str]:
    return {k: v for k, v in tree_hashes(workdir / "persons").items() if k.startswith("id_")}


BEATING = ("processing", "reid")  # the sections a merge at its prompt keeps fresh


def read_status(workdir: Path) -> dict:
    return parse_status((workdir / "status.json").read_text())


class MergeAtTerminal:
    """deeplearningg_reID.py with a pseudo-terminal for its prompt, answered when the test says."""

    def __init__(self, workdir: Path, weights: Path):
        self.primary, secondary = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "deeplearningg_reID.py"), *reid_args(weights)],
            cwd=workdir,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(secondary)
        wait_until(
            lambda: (
                read_status(workdir)["processing"].get("operation") == "waiting for confirmation"
                or self.process.poll() is not None
            ),
            what="the y/n prompt",
        )
        assert self.process.poll() is None, self.process.communicate()

    def answer(self, text: str) -> subprocess.CompletedProcess:
        os.write(self.primary, (text + "\n").encode())
        return self.finish()

    def finish(self) -> subprocess.CompletedProcess:
        try:
            out, err = self.process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            self.process.kill()  # a hung script must not outlive its test
            self.process.communicate()
            pytest.fail("hang guard: the merge did not stop within 300 s")
        finally:
            os.close(self.primary)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)


def test_a_merge_refuses_while_obj_counting_fills_the_same_folder(workdir, video, detector, mobilenet_v2):
    # the folders there before tracking starts: its own, which it goes on writing, are left out
    before = user_files(workdir)
    tracking = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "obj_counting.py"),
            "--videos",
            str(video),
            "--model",
            str(detector),
            "--max-frames",
            "1394",
            "--no-progress",
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: (read_status(workdir)["counting"].get("frames_done") or 0) > 5 or tracking.poll() is not None,
            what="tracking to start",
        )
        assert tracking.poll() is None, tracking.stderr.read()
        refused = run_script("deeplearningg_reID.py", *reid_args(mobilenet_v2), "--yes", cwd=workdir)
        assert_clean_error(refused, 1, f"persons is in use by obj_counting.py (tracking, pid {tracking.pid}, since")
        assert_clean_error(run_script("deeplearningg_reID.py", "--undo", cwd=workdir), 1, "obj_counting.py (tracking")
        provisional = run_script("deeplearningg_reID.py", *reid_args(mobilenet_v2), "--dry-run", cwd=workdir)
        assert provisional.returncode == 0, provisional.stderr
        assert f"Provisional: obj_counting.py (tracking, pid {tracking.pid}" in provisional.stdout
        assert "1. id_1 (8 crops)  <-  id_2 (8 crops)" in provisional.stdout
        assert {k: v for k, v in user_files(workdir).items() if k in before} == before
        assert read_status(workdir)["counting"]["state"] == "running"  # tracking went on undisturbed
    finally:
        tracking.send_signal(signal.SIGKILL)  # a killed tracker must not block the merge
        tracking.wait(timeout=60)
    merged = run_script("deeplearningg_reID.py", *reid_args(mobilenet_v2), "--yes", cwd=workdir)
    assert merged.returncode == 0, merged.stderr
    assert "Provisional" not in merged.stdout and not (workdir / "persons" / "id_2").exists()


def test_tracking_refuses_while_a_merge_waits_for_its_answer_which_is_a_live_state(
    workdir, video, detector, mobilenet_v2
):
    merge = MergeAtTerminal(workdir, mobilenet_v2)
    try:
        refused = run_script(
            "obj_counting.py",
            "--videos",
            video,
            "--model",
            detector,
            "--max-frames",
            "20",
            "--no-progress",
            cwd=workdir,
        )
        assert_clean_error(refused, 1, f"persons is in use by deeplearningg_reID.py (merging, pid {merge.process.pid}")
        assert read_status(workdir)["counting"]["state"] == "idle"  # refused before it began: not a failure
        # waiting for a person is not a stall: at the prompt the script still rewrites both its sections
        # (a heartbeat), so the monitor sees a live process however long the answer takes
        at_prompt = read_status(workdir)
        wait_until(
            lambda: all(read_status(workdir)[name]["updated_at"] != at_prompt[name]["updated_at"] for name in BEATING),
            what="a heartbeat of both sections at the prompt",
        )
        status = read_status(workdir)
        assert status["processing"]["state"] == "running"
        assert status["processing"]["operation"] == "waiting for confirmation"
        verdict = assess(status, datetime.now(UTC), stall_after_s=120)
        assert verdict.status == "pass", verdict.output()  # waiting for a person is not a stall
    finally:
        answered = merge.answer("n")
    assert answered.returncode == 0 and "Nothing was merged." in answered.stdout
    assert read_status(workdir)["processing"]["state"] == "done"


def test_ctrl_c_at_the_prompt_is_interrupted_not_failed(workdir, mobilenet_v2):
    merge = MergeAtTerminal(workdir, mobilenet_v2)
    merge.process.send_signal(signal.SIGINT)
    stopped = merge.finish()
    assert stopped.returncode == 130 and "Interrupted." in stopped.stderr and "Traceback" not in stopped.stderr
    status = read_status(workdir)
    assert status["processing"]["state"] == "interrupted" and status["reid"]["state"] == "interrupted"
    verdict = assess(status, datetime.now(UTC), stall_after_s=120)
    assert verdict.status == "warn" and "processing was interrupted" in verdict.output()


def test_obj_counting_stopped_with_ctrl_c_is_interrupted(workdir, video, detector):
    tracking = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "obj_counting.py"),
            "--videos",
            str(video),
            "--model",
            str(detector),
            "--no-progress",
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    wait_until(
        lambda: (read_status(workdir)["counting"].get("frames_done") or 0) > 5 or tracking.poll() is not None,
        what="tracking to start",
    )
    tracking.send_signal(signal.SIGINT)
    out, err = tracking.communicate(timeout=120)
    assert tracking.returncode == 130, err
    assert read_status(workdir)["counting"]["state"] == "interrupted"
    assert not list((workdir / "persons").glob(".lease*"))  # the lease went with the run
