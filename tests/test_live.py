"""Live sources end to end on real frames: an RTSP server on loopback (GStreamer, run by the
system Python as in ../shared/ENVIRONMENT.md), stopped and restarted mid-run, and an HTTP stream;
obj_counting.py tracking a password-protected camera, stopped by --duration or SIGTERM."""

from __future__ import annotations

import functools
import http.server
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import DATA_DIR, REPO, _require, clip_of, run_script, unavailable, wait_until
from reid.core.errors import InputError
from reid.tracking.live import BUFFERED, LiveReader
from reid.tracking.sources import parse_source, parse_sources

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
GST_PACKAGES = (
    "gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good gstreamer1.0-plugins-bad "
    "gstreamer1.0-plugins-ugly gstreamer1.0-libav"
)
PASSWORD = "Zq9-secret-pw"
CLIP_FRAMES = 220  # of the sample video, served over HTTP: the first person comes and goes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def open_once(url: str) -> None:
    with LiveReader(parse_source(url), duration_s=0.5):
        pass


@pytest.fixture(scope="module")
def gstreamer() -> None:
    check = [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"]
    try:
        ok = subprocess.run(check, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        unavailable(f"no GStreamer RTSP server for {SYSTEM_PYTHON}: apt-get install -y {GST_PACKAGES}")


class RtspServer:
    """``tests/rtsp_server.py`` in a subprocess, which can be stopped and started again on its port."""

    def __init__(self, video: Path, credentials: str = "") -> None:
        self.video, self.credentials, self.port = video, credentials, free_port()
        self.process: subprocess.Popen | None = None

    def url(self, userinfo: str = "") -> str:
        return f"rtsp://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/live"

    def start(self) -> None:
        args = [SYSTEM_PYTHON, str(SERVER), str(self.port), str(self.video)]
        self.process = subprocess.Popen(
            args + ([self.credentials] if self.credentials else []),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            pytest.fail(f"the RTSP server did not start: {line}{self.process.stderr.read()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.communicate(timeout=10)
            self.process = None


@pytest.fixture
def rtsp(gstreamer, video):
    servers: list[RtspServer] = []

    def start(credentials: str = "", clip: Path | None = None) -> RtspServer:
        server = RtspServer(clip or video, credentials)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_rtsp_stream_reads_real_frames_for_the_duration(rtsp):
    server = rtsp()
    with LiveReader(parse_source(server.url()), duration_s=1.5) as reader:
        shapes = {frame.shape for _, frame in reader}
    assert shapes == {(432, 768, 3)}
    assert reader.frames_read > 1 and reader.reconnects == 0 and reader.error is None
    assert reader.uptime_s >= 1.5  # it ended because its duration was over, not before (a lower bound only)


def test_rtsp_server_restarted_mid_run_is_reconnected(rtsp, caplog):
    server = rtsp()
    source = parse_source(server.url())
    after_restart = []
    with caplog.at_level(logging.INFO), LiveReader(source, duration_s=60) as reader:
        restarted = False
        for index, _ in reader:
            if index == 5 and not restarted:
                server.stop()
                threading.Timer(1.0, server.start).start()
                restarted = True
            elif reader.reconnects:
                after_restart.append(index)
                if len(after_restart) >= 5:
                    reader.stop()
    assert reader.reconnects >= 1 and len(after_restart) >= 5 and reader.error is None
    assert "the stream dropped; reconnecting" in caplog.text and "reconnected" in caplog.text


def test_a_stream_that_stays_away_ends_with_an_error(rtsp):
    server = rtsp()
    with LiveReader(parse_source(server.url()), duration_s=60, give_up_s=1.0) as reader:
        for index, _ in reader:
            if index == 2:
                server.stop()
    assert reader.error and "stayed away" in reader.error


def test_password_reaches_the_camera_but_never_the_logs(rtsp, caplog, tmp_path):
    server = rtsp(f"viewer:{PASSWORD}")
    credentials = tmp_path / "cameras.txt"
    credentials.write_text(f"127.0.0.1:{server.port} viewer:{PASSWORD}\n", encoding="utf-8")
    for source in (parse_source(server.url(f"viewer:{PASSWORD}")), *parse_sources([server.url()], credentials)):
        with caplog.at_level(logging.DEBUG), LiveReader(source, duration_s=0.5) as reader:
            assert sum(1 for _ in reader) > 0
        assert source.label == server.url("viewer:***") and PASSWORD not in source.file_stem
    with pytest.raises(InputError, match=r"^rtsp://viewer:\*\*\*@127.0.0.1:\d+/live cannot be opened") as error:
        open_once(server.url("viewer:wrong-pw"))
    assert "wrong-pw" not in str(error.value) and PASSWORD not in caplog.text


def test_a_source_that_never_opens_is_one_clear_error(caplog):
    with caplog.at_level(logging.DEBUG), pytest.raises(InputError, match=r"cannot be opened"):
        open_once(f"rtsp://127.0.0.1:{free_port()}/live")
    assert "reconnect" not in caplog.text  # told at once, never retried


def test_http_stream(video):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(video.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        source = parse_source(f"http://127.0.0.1:{httpd.server_address[1]}/{video.name}")
        with LiveReader(source, duration_s=0.5) as reader:
            shapes = {frame.shape for _, frame in reader}
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert shapes == {(432, 768, 3)} and reader.frames_read > 0


VENICE = DATA_DIR / "mot" / "venice-2" / "venice-2_960x540.mp4"  # 30 fps, people in every frame


def test_a_slow_consumer_gets_the_newest_frames_and_never_falls_far_behind(rtsp):
    """The consumer holds each of its first frames until the camera has sent more than the buffer
    holds (a wait on the reader's count, not a sleep): frames must be dropped, and the next frame it
    gets is one of the newest ``BUFFERED``, whatever the machine's speed."""
    server = rtsp(clip=_require(VENICE))
    indexes, lags, read_when_held = [], [], None
    with LiveReader(parse_source(server.url())) as reader:
        for index, _ in reader:
            if read_when_held is not None:
                lags.append(read_when_held - 1 - index)  # the camera's newest frame then, against this one
            indexes.append(index)
            read_when_held = None
            if len(indexes) < 5:
                wait_until(lambda i=index: reader.frames_read > i + BUFFERED + 2, "the camera to get ahead")
                read_when_held = reader.frames_read
            else:
                reader.stop()  # the frames still buffered are handed out, then it ends
    assert reader.dropped > 0 and indexes == sorted(set(indexes)) and reader.error is None
    assert len(indexes) + reader.dropped == reader.frames_read  # every frame handed out or counted as dropped
    assert len(lags) == 4 and all(lag < BUFFERED for lag in lags)  # never more than the buffer behind


def files_mentioning(root: Path, secret: str) -> list[str]:
    return [
        str(path)
        for path in root.rglob("*")
        if secret in path.name or (path.is_file() and secret.encode() in path.read_bytes())
    ]


@pytest.mark.slow
def test_obj_counting_tracks_a_password_protected_camera_for_the_duration(rtsp, detector, tmp_path):
    server = rtsp(f"cam:{PASSWORD}", clip=_require(VENICE))
    env = {"REID_CAMERA_PASSWORD": PASSWORD}  # not on the command line
    args = ["--videos", server.url("cam"), "--duration", "10", "--model", detector, "--save-mot", "mot"]
    proc = run_script("obj_counting.py", *args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    label = server.url("cam:***")
    live_for = re.search(r"live for (\d+) s", proc.stdout)
    assert label in proc.stdout and live_for and int(live_for.group(1)) >= 10, proc.stdout
    folders = sorted((tmp_path / "persons").glob("id_*"))
    # Venice-2 shows a busy square; how many people are counted depends on how many frames this
    # machine kept up with (a camera does not wait), so only that some are
    assert folders
    for folder in folders:
        meta = json.loads((folder / "track.json").read_text())
        assert meta["video"] == label and meta["complete"] is True
        assert {c["file"] for c in meta["crops"]} == {p.name for p in folder.glob("*.jpg")}
    video = json.loads((tmp_path / "status.json").read_text())["counting"]["videos"][0]
    assert video["video"] == label and video["state"] == "done" and video["live"] is True
    assert video["uptime_s"] >= 10 and video["reconnects"] == 0  # ended by --duration: a lower bound, not a speed
    assert video["frames"] > 0 and video["fps"] > 0
    assert files_mentioning(tmp_path, PASSWORD) == []
    assert PASSWORD not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_sigterm_ends_a_live_run_as_done_with_complete_folders(rtsp, detector, tmp_path):
    server = rtsp(clip=_require(VENICE))
    command = [sys.executable, str(REPO / "obj_counting.py"), "--videos", server.url(), "--model", str(detector)]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(
            lambda: list((tmp_path / "persons").glob("id_*")) or proc.poll() is not None,
            "the first person's folder",
            every=0.5,
        )
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "1 of 1 video" in stdout
    assert json.loads((tmp_path / "status.json").read_text())["counting"]["state"] == "done"
    folders = list((tmp_path / "persons").glob("id_*"))
    assert folders
    for folder in folders:
        meta = json.loads((folder / "track.json").read_text())
        assert meta["complete"] is True
        assert {c["file"] for c in meta["crops"]} == {p.name for p in folder.glob("*.jpg")}


@pytest.mark.slow
def test_a_dead_camera_is_one_line_and_the_other_sources_are_tracked(rtsp, detector, video, tmp_path):
    server = rtsp()
    dead = f"rtsp://127.0.0.1:{free_port()}/live"
    args = ["--videos", dead, "--videos", server.url(), "--videos", video, "--duration", "3", "--max-frames", "30"]
    proc = run_script("obj_counting.py", *args, "--model", detector, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr  # some sources failed, the others were processed
    assert re.search(rf"{re.escape(dead)} +FAILED: {re.escape(dead)} cannot be opened", proc.stdout), proc.stdout
    assert "2 of 3 videos" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_obj_counting_tracks_an_http_stream(video, detector, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    # the first person walks in and out; MJPG in AVI, which FFmpeg reads front to back from a server without
    # ranges (an mp4 written by OpenCV has its index at the end)
    clip = clip_of(video, served / "first.avi", 0, CLIP_FRAMES, codec="MJPG")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{clip.name}"
    try:
        proc = run_script("obj_counting.py", "--videos", url, "--model", detector, cwd=tmp_path)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert proc.returncode == 0, proc.stderr
    assert url in proc.stdout and "Traceback" not in proc.stderr
    folders = sorted((tmp_path / "persons").glob("id_*"))
    assert folders  # people walk in within the first seconds of the file
    assert all(json.loads((f / "track.json").read_text())["video"] == url for f in folders)
    # a file over HTTP is read whole, at tracking's pace, to its end: every frame tracked, none dropped
    video_status = json.loads((tmp_path / "status.json").read_text())["counting"]["videos"][0]
    assert video_status["dropped_frames"] == 0 and video_status["frames"] == CLIP_FRAMES
