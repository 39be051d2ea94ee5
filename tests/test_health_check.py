"""health_check.py as a real server process, queried over HTTP on loopback as curl would."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import REPO, assert_clean_error, run_script, wait_until
from reid.monitor.server import is_loopback


class Server:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.port = port

    def get(self, path: str, method: str = "GET", timeout: float = 10) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture
def server(tmp_path):
    """The real monitor on a free port, started as a user would, stopped with SIGTERM."""
    (tmp_path / "persons" / "id_1").mkdir(parents=True)
    (tmp_path / "persons" / "id_1" / "a.jpg").write_bytes(b"\xff\xd8jpeg")
    process = subprocess.Popen(
        [sys.executable, str(REPO / "health_check.py"), "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/health", line)
    assert match, line + process.stderr.read()
    instance = Server(process, int(match.group(1)))
    yield instance
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_every_endpoint_answers_json_over_http(server, tmp_path):
    (tmp_path / "status.json").write_text(json.dumps({"counting": {"state": "done", "persons": 1}}))
    for path in ("/health", "/health/processing", "/health/reid", "/health/persons"):
        status, headers, body = server.get(path)
        assert status == 200, (path, body)
        assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
        assert json.loads(body)["status"] == "pass"
    assert json.loads(server.get("/health")[2])["total_persons"] == 1
    status, headers, body = server.get("/metrics")
    assert status == 200 and b"reid_persons 1.0" in body
    assert server.get("/nowhere")[0] == 404 and server.get("/health", method="POST")[0] == 405


def test_answers_follow_status_changes_live(server, tmp_path):
    status_file = tmp_path / "status.json"
    status_file.write_text(json.dumps({"counting": {"state": "failed", "error": "disk full"}}))
    status, _, body = server.get("/health")
    assert status == 503 and "disk full" in json.loads(body)["output"]
    status_file.write_text(json.dumps({"counting": {"state": "done"}}))
    assert server.get("/health")[0] == 200
    status_file.write_text("{ half a file")
    status, _, body = server.get("/health/processing")
    assert status == 503 and "not valid JSON" in json.loads(body)["output"]
    assert server.process.poll() is None  # still up


REWRITER = """
import sys, time
from pathlib import Path
from reid.core.status import StatusFile
status, stop = StatusFile(sys.argv[1]), Path(sys.argv[2])
deadline = time.monotonic() + 600  # a hang guard, should the test die without stopping it
i = 0
while not stop.exists() and time.monotonic() < deadline:
    i += 1
    status.update_section("counting", {"state": "running", "frames_done": i, "frames_total": 10**6,
                                       "pad": "x" * (i * 131 % 30000)})
    time.sleep(0.005)  # many rewrites a second, with room for the server on these cores
print(i)
"""
VERSIONS = 20  # rewrites each seen in some answer: the answers followed the file while it was replaced
REQUESTS = 60  # at least, per client


def test_no_request_fails_while_another_process_rewrites_the_status_many_times_a_second(server, tmp_path):
    status_file, stop = tmp_path / "status.json", tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", REWRITER, str(status_file), str(stop)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    versions: set[int] = set()  # frames_done of each rewrite an answer showed

    def poll(worker: int) -> list[str]:
        problems = []
        deadline = time.monotonic() + 300  # a hang guard only
        i = 0
        while i < REQUESTS or len(versions) < VERSIONS:
            if time.monotonic() > deadline:
                return [*problems, f"hang guard: {len(versions)} rewrites seen in {i} answers after 300 s"]
            path = ("/health", "/health/processing", "/health/reid", "/metrics")[(worker + i) % 4]
            i += 1
            try:
                status, _, body = server.get(path, timeout=60)
            except OSError as exc:
                problems.append(f"{path}: {exc}")
                continue
            if status != 200:
                problems.append(f"{path}: HTTP {status} {body[:200]!r}")
            elif path != "/metrics":
                answer = json.loads(body)  # raises on an invalid body
                if path == "/health/processing":
                    versions.add(answer["counting"]["done"])
        return problems

    try:
        wait_until(lambda: "frames_done" in status_file.read_text(), "the first rewrite")
        with ThreadPoolExecutor(max_workers=8) as pool:
            problems = [p for result in pool.map(poll, range(8)) for p in result]
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert problems == []
    assert len(versions) >= VERSIONS and int(out) >= max(versions)  # the answers showed rewrites as they came


def test_sigterm_stops_the_server_cleanly(server):
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    assert "Traceback" not in server.process.stderr.read()


def test_a_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_script("health_check.py", "--port", port, cwd=tmp_path, timeout=60)
    assert_clean_error(proc, 1, f"port {port} on 127.0.0.1 is already in use")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--port", "70000"], "--port must be 0-65535"),
        (["--port", "http"], "invalid int value"),
        (["--stall-after", "0"], "--stall-after must be positive"),
        (["--debug"], "unrecognized arguments: --debug"),
    ],
)
def test_bad_flags(tmp_path, args, fragment):
    assert_clean_error(run_script("health_check.py", *args, cwd=tmp_path, timeout=60), 2, fragment)


@pytest.mark.parametrize(
    "host, expected",
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("myhost", False),
    ],
)
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


def test_health_and_health_persons_give_one_verdict_on_a_missing_persons_folder(server, tmp_path):
    import shutil

    shutil.rmtree(tmp_path / "persons")
    verdicts = {path: server.get(path)[::2] for path in ("/health", "/health/persons")}
    assert {(status, json.loads(body)["status"]) for status, body in verdicts.values()} == {(200, "warn")}
    (tmp_path / "status.json").write_text(json.dumps({"counting": {"state": "done", "persons": 1}}))
    verdicts = {path: server.get(path)[::2] for path in ("/health", "/health/persons")}
    assert {(status, json.loads(body)["status"]) for status, body in verdicts.values()} == {(503, "fail")}
