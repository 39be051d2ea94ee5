"""Workers and their owner killed at any moment, with real processes and real signals: no worker
(nor multiprocessing's resource tracker, nor a local Ray instance) outlives a SIGKILLed owner; a
worker SIGKILLed mid-video, even halfway through a message, or one that stops answering, is
reported as that video's failure while the other videos finish. Processes are found through /proc."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DATA_DIR, REPO, _require, clip_of
from reid.core.config import TrackingConfig
from reid.tracking.messages import (
    FramesDone,
    VideoBatch,
    VideoDone,
    VideoFailed,
    VideoTask,
    WorkerReady,
    result_fields,
)
from reid.tracking.progress import VideoResult
from reid.tracking.tracks import RunContext
from reid.tracking.workers import ProcessPool

TUD = DATA_DIR / "mot" / "tud-stadtmitte" / "tud-stadtmitte.mp4"
HANG_GUARD_S = 30  # "a few seconds" are expected; this only keeps a broken build from hanging the suite
POOLS = [["--workers", "2"], ["--ray"]]
RAY_AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")
RAY_AGENTS_GUARD_S = 180  # they give up on a dead GCS after 60 s (publish_error's timeout, fixed in Ray)


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def is_alive(pid: int) -> bool:
    """Running (a zombie is dead: nobody may be left to reap it once its parent is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def descendants(pid: int) -> set[int]:
    parents = {int(p.name): parent_of(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def has_open(pid: int, path: Path) -> bool:
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) == str(path):
                return True
        except OSError:
            continue
    return False


def survivors(pids: set[int], within: float) -> list[str]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(is_alive(p) for p in pids):
        time.sleep(0.2)
    return [f"{p}: {command_of(p)}" for p in sorted(pids) if is_alive(p)]


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory, video) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    shutil.copy(_require(TUD), folder / "a_street.mp4")
    clip_of(video, folder / "b_hall.mp4", 200, 300)
    return folder


def start_tracking(videos: Path, detector: Path, work: Path, *how: str) -> subprocess.Popen:
    """obj_counting.py started on ``videos``; its output goes to files (a pipe would stay open as long
    as any process that inherited it, which is what the tests look for)."""
    work.mkdir(exist_ok=True)
    command = [sys.executable, str(REPO / "obj_counting.py"), "--videos", str(videos), "--model", str(detector)]
    with open(work / "stdout.txt", "w") as stdout, open(work / "stderr.txt", "w") as stderr:
        return subprocess.Popen(
            [*command, *how, "--no-progress"],
            cwd=work,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def output(work: Path) -> tuple[str, str]:
    return (work / "stdout.txt").read_text(), (work / "stderr.txt").read_text()


def wait_for_frames(proc: subprocess.Popen, status: Path, frames: int) -> None:
    """Until the run has tracked ``frames`` frames (hang guard: 10 minutes)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if (json.loads(status.read_text())["counting"].get("frames_done") or 0) >= frames:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    pytest.fail(f"the run never tracked {frames} frames: {output(status.parent)[1][-3000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("how", POOLS, ids=["workers", "ray"])
def test_no_worker_outlives_an_owner_killed_with_sigkill(how, two_videos, detector, tmp_path):
    proc = start_tracking(two_videos, detector, tmp_path, *how)
    left: set[int] = set()
    try:
        wait_for_frames(proc, tmp_path / "status.json", 30)
        left = descendants(proc.pid)
        assert left, "the owner had no worker process"
        # Ray's own agents wait a minute on the dead GCS before they exit (a timeout inside Ray):
        # everything else, and they too in the end
        agents = {p for p in left if command_of(p).startswith(RAY_AGENTS)}
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        alive = survivors(left - agents, within=HANG_GUARD_S) + survivors(agents, within=RAY_AGENTS_GUARD_S)
    finally:
        for pid in descendants(proc.pid) | left:
            if is_alive(pid):
                os.kill(pid, signal.SIGKILL)  # a failed run must not leave them behind either
    assert alive == [], "still running after the owner was killed:\n" + "\n".join(alive)


@pytest.mark.slow
@pytest.mark.parametrize("how", POOLS, ids=["workers", "ray"])
def test_a_worker_killed_mid_video_fails_that_video_and_the_other_finishes(how, two_videos, detector, tmp_path):
    proc = start_tracking(two_videos, detector, tmp_path, *how)
    videos = sorted(p.resolve() for p in two_videos.iterdir())
    victim = video = None
    try:
        wait_for_frames(proc, tmp_path / "status.json", 20)
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:
            held = [(p, v) for p in descendants(proc.pid) for v in videos if has_open(p, v)]
            victim, video = held[0] if held else (None, None)
            time.sleep(0.1)
        assert victim is not None, "no worker had a video open"
        os.kill(victim, signal.SIGKILL)
        proc.wait(timeout=600)
    finally:
        proc.kill()
    stdout, stderr = output(tmp_path)
    assert proc.returncode == 3, stderr  # one video failed, the other was processed
    failed = "the worker process tracking it died \\(killed by signal 9\\)" if how[0] == "--workers" else "its Ray"
    assert re.search(rf"{re.escape(video.name)} +FAILED: {failed}", stdout), stdout
    assert "1 of 2 videos" in stdout and "Traceback" not in stderr
    assert json.loads((tmp_path / "status.json").read_text())["counting"]["state"] == "done"


# -- the pool's side, with worker processes that misbehave on purpose ------------------------------------

CONTEXT = RunContext("run", TrackingConfig(), "model")


def tasks(pool: ProcessPool, count: int) -> None:
    for index in range(count):
        pool.submit(VideoTask(index, Path(f"v{index}.mp4"), None, f"fp{index}", CONTEXT))


def done_batch(index: int) -> VideoBatch:
    return VideoBatch(index, [FramesDone(3, 0), VideoDone(result_fields(VideoResult(Path("v"), state="done")))])


def dies_halfway_through_a_message(config, inbox, outbox, owner, log_level):
    """Video 0: half a message, then SIGKILL (as if killed while sending); any other: done."""
    while True:
        outbox.send(WorkerReady())
        task = inbox.recv()
        if task is None:
            return
        if task.index == 0:
            payload = pickle.dumps(VideoBatch(0, [FramesDone(1, 0)] * 100))
            os.write(outbox.fileno(), struct.pack("!i", len(payload)) + payload[: len(payload) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        outbox.send(done_batch(task.index))


def stops_answering(config, inbox, outbox, owner, log_level):
    """Video 0: silence, no heartbeat either (a process stuck for good); any other: done."""
    while True:
        outbox.send(WorkerReady())
        task = inbox.recv()
        if task is None:
            return
        if task.index == 0:
            time.sleep(3600)
        outbox.send(done_batch(task.index))


def outcome(pool: ProcessPool) -> dict[int, str]:
    ends = {}
    try:
        for index, messages in pool.results():
            last = messages[-1]
            if isinstance(last, VideoFailed):
                ends[index] = last.message
            elif isinstance(last, VideoDone):
                ends[index] = "done"
    finally:
        pool.close()
    return ends


def test_a_worker_killed_halfway_through_a_message_fails_its_video_only():
    pool = ProcessPool(TrackingConfig(), 2, work=dies_halfway_through_a_message)
    tasks(pool, 3)
    assert outcome(pool) == {0: "the worker process tracking it died (killed by signal 9)", 1: "done", 2: "done"}
    assert not any(w.process.is_alive() for w in pool.workers)


def test_a_worker_that_stops_answering_is_ended_and_its_video_failed():
    pool = ProcessPool(TrackingConfig(), 2, work=stops_answering, hung_after_s=3)
    tasks(pool, 3)
    ends = outcome(pool)
    assert ends[1] == ends[2] == "done"
    hung = r"the worker process tracking it stopped answering \(nothing for \d+ s\), so it was ended"
    assert re.fullmatch(hung, ends[0])
    assert not any(w.process.is_alive() for w in pool.workers)
