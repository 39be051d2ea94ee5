"""A camera lost for good (an RTSP server on loopback that is stopped and never comes back) is a
failed source: exit code 3, status.json "failed" with the reason, the monitor's /health/processing
503, and the persons tracked before the loss kept in complete folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from test_live import RtspServer, gstreamer  # noqa: F401 (a fixture)

from conftest import REPO
from reid.core.config import LIVE_GIVE_UP_S, STALL_AFTER_S, TrackingConfig
from reid.monitor.app import create_app


def test_a_lost_source_is_given_up_on_before_the_monitor_would_call_the_run_stalled():
    assert TrackingConfig().give_up_s == LIVE_GIVE_UP_S < STALL_AFTER_S  # no 503 -> 200 flip between them


@pytest.mark.slow
def test_a_camera_that_never_comes_back_is_a_failed_source(gstreamer, video, detector, tmp_path):  # noqa: F811
    server, proc = RtspServer(video), None
    server.start()
    try:
        command = [sys.executable, str(REPO / "obj_counting.py"), "--videos", server.url(), "--model", str(detector)]
        with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
            proc = subprocess.Popen(
                [*command, "--give-up-after", "3", "--no-progress"],
                cwd=tmp_path,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        status = tmp_path / "status.json"
        deadline = time.monotonic() + 300  # hang guard
        while time.monotonic() < deadline and proc.poll() is None and not list(tmp_path.glob("persons/id_*")):
            time.sleep(0.2)  # until the first person has a folder
        server.stop()  # for good
        proc.wait(timeout=300)
    finally:
        server.stop()
        if proc is not None:
            proc.kill()
    stdout, stderr = (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()
    label = server.url()
    assert proc.returncode == 3, stderr  # a failed source, as a bad video is
    reason = f"{label}: the stream stayed away for more than 3 s: given up"
    assert f"FAILED: {reason}" in stdout and "before that: " in stdout and "Traceback" not in stderr

    section = json.loads(status.read_text())["counting"]
    assert section["state"] == "failed" and section["error"] == reason
    assert section["videos"][0]["state"] == "failed" and section["videos"][0]["frames"] > 0
    client = create_app({"STATUS_FILE": str(status), "PERSONS_DIR": str(tmp_path / "persons")}).test_client()
    answer = client.get("/health/processing")
    assert answer.status_code == 503 and reason in answer.get_json()["output"]
    assert client.get("/health").status_code == 503

    folders = list((tmp_path / "persons").glob("id_*"))
    assert folders
    for folder in folders:  # what was tracked before the loss stands, finished
        meta = json.loads((folder / "track.json").read_text())
        assert meta["complete"] is True and meta["video"] == label
