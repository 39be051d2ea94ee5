"""Many videos at once: obj_counting.py with --workers (processes) and --ray (a real local Ray cluster)
makes the same folders as a serial run, ids aside; a worker that dies is reported, the other videos
finish, nothing it wrote is half-done, and the next run does its video again."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from conftest import DATA_DIR, REPO, _require, assert_clean_error, clip_of, run_script, wait_until

TUD = DATA_DIR / "mot" / "tud-stadtmitte" / "tud-stadtmitte.mp4"


@pytest.fixture(scope="module")
def videos(tmp_path_factory, video) -> Path:
    """Three short videos: the example clip, TUD-Stadtmitte (a busy street) and the sample video's second person."""
    folder = tmp_path_factory.mktemp("videos")
    shutil.copy(REPO / "examples" / "sample.mp4", folder / "a_example.mp4")
    shutil.copy(_require(TUD), folder / "b_street.mp4")
    clip_of(video, folder / "c_second.mp4", 220, 100)
    return folder


def frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def folders(persons: Path) -> dict[tuple[str, int], tuple[dict, dict[str, str]]]:
    """Every person folder by (video, tracker id): its track.json without the ids of this run, and the
    sha256 of each crop."""
    found = {}
    for folder in sorted(persons.glob("id_*")):
        meta = json.loads((folder / "track.json").read_text())
        crops = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.jpg")}
        found[(meta["video_name"], meta["tracker_id"])] = (
            {k: v for k, v in meta.items() if k not in ("person_id", "run_id")},
            crops,
        )
    return found


def track(videos: Path, work: Path, detector: Path, *extra: str, env: dict | None = None, timeout: float = 600):
    work.mkdir(exist_ok=True)
    args = ["--videos", videos, "--model", detector, *extra]
    return run_script("obj_counting.py", *args, cwd=work, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def serial(tmp_path_factory, videos, detector) -> Path:
    work = tmp_path_factory.mktemp("serial")
    proc = track(videos, work, detector)
    assert proc.returncode == 0, proc.stderr
    return work / "persons"


@pytest.mark.slow
@pytest.mark.parametrize("how", [["--workers", "2"], ["--ray"]], ids=["workers", "ray"])
def test_workers_and_ray_make_the_same_folders_as_a_serial_run(how, serial, videos, detector, tmp_path):
    proc = track(videos, tmp_path, detector, *how)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "3 of 3 videos" in proc.stdout
    expected, got = folders(serial), folders(tmp_path / "persons")
    assert len(expected) >= 10  # the street alone has several people
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key
    ids = sorted(int(p.name[3:]) for p in (tmp_path / "persons").glob("id_*"))
    assert ids == list(range(1, len(expected) + 1))  # one id per folder, none twice, none skipped
    section = json.loads((tmp_path / "status.json").read_text())["counting"]
    assert section["state"] == "done" and section["persons"] == len(expected)
    frames = sum(frame_count(path) for path in videos.glob("*.mp4"))
    assert section["frames_done"] == sum(v["frames"] for v in section["videos"]) == frames


@pytest.mark.slow
def test_a_worker_that_dies_is_reported_and_the_others_finish(videos, detector, tmp_path):
    """The worker tracking the street is SIGKILLed after 150 of its 179 frames (``REID_FAULT_AT``)."""
    proc = track(videos, tmp_path, detector, "--workers", "2", env={"REID_FAULT_AT": "worker-frame:b_street.mp4:150"})
    assert proc.returncode == 3, proc.stderr  # some videos failed, the others were processed
    died = r"b_street\.mp4 +FAILED: the worker process tracking it died \(killed by signal 9\)"
    assert re.search(died, proc.stdout), proc.stdout
    assert "2 of 3 videos" in proc.stdout and "Traceback" not in proc.stderr
    street = []
    for folder in (tmp_path / "persons").glob("id_*"):
        meta = json.loads((folder / "track.json").read_text())  # every track.json whole
        for crop in folder.glob("*.jpg"):
            assert cv2.imread(str(crop)) is not None  # every crop whole
        if meta["video_name"] == "b_street.mp4":
            street.append(meta)
            assert meta["complete"] is False
            assert {c["file"] for c in meta["crops"]} <= {p.name for p in folder.glob("*.jpg")}
    assert street  # it had written folders before it died
    again = track(videos, tmp_path, detector, "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("done already") == 2 and "its earlier folders were replaced" in again.stdout


def test_annotated_copies_need_a_serial_run(videos, tmp_path):
    proc = run_script("obj_counting.py", "--videos", videos, "--workers", "2", "--save-video", cwd=tmp_path)
    assert proc.returncode == 2 and "--save-video and --save-mot work without --workers" in proc.stderr


def group_gone(group: int) -> bool:
    """Whether no process of ``group`` is left."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_ctrl_c_ends_the_workers_and_leaves_whole_files(videos, detector, tmp_path):
    """Ctrl-C in a terminal reaches the whole process group: the workers ignore it, the owner ends them."""
    command = [sys.executable, str(REPO / "obj_counting.py"), "--videos", str(videos), "--model", str(detector)]
    proc = subprocess.Popen(
        [*command, "--workers", "2", "--no-progress"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    status = tmp_path / "status.json"
    try:
        wait_until(
            lambda: (
                (json.loads(status.read_text())["counting"].get("frames_done") or 0) > 60 or proc.poll() is not None
            ),
            "the workers to track 60 frames",
            every=0.2,
        )
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert json.loads(status.read_text())["counting"]["state"] == "interrupted"
    wait_until(lambda: group_gone(proc.pid), "the workers to end after the owner")  # no worker left behind
    for folder in (tmp_path / "persons").glob("id_*"):
        json.loads((folder / "track.json").read_text())
        assert all(cv2.imread(str(crop)) is not None for crop in folder.glob("*.jpg"))
    again = track(videos, tmp_path, detector, "--workers", "2")
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_the_merge_stage_embeds_on_ray_to_the_same_plan(labelled_crops, tmp_path):
    """deeplearningg_reID.py --ray: crops embedded by Ray tasks (a real local cluster), the same plan."""
    model = _require(
        DATA_DIR / "weights/intel/person-reidentification-retail-0287/FP32/person-reidentification-retail-0287.xml"
    )
    for how in ("serial", "ray"):
        persons = tmp_path / how / "persons"
        for number, identity in enumerate(sorted(p for p in labelled_crops.iterdir() if p.is_dir())[:6], 1):
            for camera in ("01", "02"):
                folder = persons / f"id_{2 * number - (camera == '01')}"
                folder.mkdir(parents=True)
                for image in sorted(identity.glob(f"{camera}_*.png")):
                    shutil.copy(image, folder / image.name)
    args = ["--backbone", "reid-0287", "--weights", model, "--dry-run", "--no-progress"]
    serial = run_script("deeplearningg_reID.py", *args, cwd=tmp_path / "serial")
    on_ray = run_script("deeplearningg_reID.py", *args, "--ray", cwd=tmp_path / "ray")
    assert serial.returncode == on_ray.returncode == 0, serial.stderr + on_ray.stderr
    assert "Proposed merges:" in serial.stdout and "<-" in serial.stdout  # something to agree on
    assert on_ray.stdout == serial.stdout
    assert json.loads((tmp_path / "ray" / "status.json").read_text())["processing"]["state"] == "done"


def test_a_ray_address_where_nothing_answers_is_one_line_at_once(videos, detector, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    # told in one line; the timeout is a hang guard (Ray on its own would retry for many minutes)
    proc = track(videos, tmp_path, detector, "--ray", f"127.0.0.1:{port}", timeout=300)
    assert_clean_error(proc, 1, f"--ray 127.0.0.1:{port}: no Ray cluster answers there")


@pytest.fixture
def ray_head(tmp_path):
    """A running Ray cluster (``ray start --head``, token authentication on) as a user would start one."""
    ray = Path(sys.executable).with_name("ray")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    start = [ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--disable-usage-stats"]
    started = subprocess.run([*start, "--include-dashboard=false"], env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}", {k: env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True)


@pytest.mark.slow
def test_a_running_ray_cluster_gets_the_videos_through_its_object_store(ray_head, serial, videos, detector, tmp_path):
    """--ray ADDRESS: the tasks get copies of the videos and the detector, as on machines without the files."""
    address, env = ray_head
    proc = track(videos, tmp_path, detector, "--ray", address, env=env)
    assert proc.returncode == 0, proc.stderr
    assert folders(tmp_path / "persons") == folders(serial)
