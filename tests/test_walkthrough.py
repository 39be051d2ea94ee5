"""The README's walkthrough, run as a new user would: its commands, in order, in a fresh copy of the
repository, on the bundled example clip, each printing what the README shows (timings, timestamps
and the monitor's port aside). Offline, so the detector is the test data's INT8 export of yolov8n
(``--model``) and the re-ID network's official files are put where a download would have put them
(``REID_MODELS``): everything else is the command as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import DATA_DIR, REPO, tree_hashes, wait_until

README = REPO / "README.md"
REID_0287 = DATA_DIR / "weights" / "intel" / "person-reidentification-retail-0287" / "FP32"

TRACK = ".venv/bin/python obj_counting.py --videos examples/sample.mp4"
MONITOR = ".venv/bin/python health_check.py"
MERGE = ".venv/bin/python deeplearningg_reID.py --backbone reid-0287"
CHECK = "curl http://localhost:5001/health/processing"
UNDO = ".venv/bin/python deeplearningg_reID.py --undo"


def readme_outputs() -> dict[str, str]:
    """Each one-line bash block of the README with the text block right after it (what it prints)."""
    blocks = re.findall(r"```(\w*)\n(.*?)```", README.read_text(), flags=re.S)
    shown = {}
    for (language, body), (next_language, output) in zip(blocks, blocks[1:], strict=False):
        if language == "bash" and next_language == "text" and len(body.strip().splitlines()) == 1:
            shown[body.strip()] = output
    return shown


def normalised(text: str, port: int | None = None) -> str:
    """What may differ between two runs of the same command: times, speeds, stamps, the port."""
    text = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "<run>", text)
    text = re.sub(r"\d{8}T\d{6,}Z", "<stamp>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>", text)
    text = re.sub(r"in [\d.]+ s, [\d.]+ fps", "in <s> s, <fps> fps", text)
    text = re.sub(r'"(age_s|fps)":[\d.]+', r'"\1":<n>', text)
    if port is not None:
        text = text.replace(f":{port}/", ":5001/")
    return text.replace("\r\n", "\n").strip()


def assert_prints(command: str, output: str, shown: dict[str, str], port: int | None = None) -> None:
    assert command in shown, f"the README no longer shows {command!r} followed by its output"
    expected = normalised(shown[command].replace("[y/N] y\n", "[y/N] "))  # the answer is typed, not printed
    actual = normalised(output, port)
    if "..." not in expected:
        assert actual == expected, f"{command} printed:\n{output}"
        return
    at = 0  # an abridged block: its parts, in order
    for part in expected.split("..."):
        found = actual.find(part, at)
        assert found >= 0, f"{command}: {part!r} not in what it printed:\n{output}"
        at = found + len(part)


@pytest.fixture
def fresh_copy(tmp_path, detector):
    """The repository as a clone has it (no persons, no status), with this environment's .venv."""
    copy = tmp_path / "reid"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    (copy / ".venv").symlink_to(Path(sys.prefix))
    models = tmp_path / "models" / "reid-0287"  # where a download of the official files would have gone
    models.mkdir(parents=True)
    for file in REID_0287.glob("person-reidentification-retail-0287.*"):
        os.symlink(file, models / file.name)
    return copy, {**os.environ, "REID_MODELS": str(models.parent), "PYTHONUNBUFFERED": "1"}


def run(copy: Path, env: dict, command: str, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*command.split(), *extra], cwd=copy, env=env, capture_output=True, text=True, timeout=900
    )  # the timeout is a hang guard
    assert proc.returncode == 0, f"{command}: {proc.stderr}"
    assert proc.stderr == "", f"{command} wrote to the terminal beyond its output:\n{proc.stderr}"
    return proc


def answer_y(copy: Path, env: dict, command: str) -> subprocess.CompletedProcess:
    """The merge at a terminal, answered ``y``."""
    primary, secondary = os.openpty()
    try:
        process = subprocess.Popen(
            command.split(),
            cwd=copy,
            env=env,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(primary, b"y\n")  # the terminal keeps it until the prompt reads it
        out, err = process.communicate(timeout=900)
    finally:
        os.close(secondary)
        os.close(primary)
    assert process.returncode == 0 and err == "", err
    return subprocess.CompletedProcess(process.args, 0, out, err)


def folders(copy: Path) -> dict[str, str]:
    """Every file of the person folders, by path, with its sha256."""
    return {k: v for k, v in tree_hashes(copy / "persons").items() if k.startswith("id_")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_the_readme_walkthrough_prints_what_the_readme_shows(fresh_copy, detector):
    copy, env = fresh_copy
    shown = readme_outputs()

    # 1. track: three visits, three folders
    assert_prints(TRACK, run(copy, env, TRACK, "--model", str(detector)).stdout, shown)
    assert sorted(p.name for p in (copy / "persons").glob("id_*")) == ["id_1", "id_2", "id_3"]

    # 2. the monitor, in the background (on a free port rather than 5001, which may be taken here)
    port = free_port()
    monitor = subprocess.Popen(
        [*MONITOR.split(), "--port", str(port)], cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        first_line = monitor.stdout.readline().decode()
        assert_prints(MONITOR, first_line, shown, port)

        # 3. the merge, answered y: the woman's two visits become one folder
        before = folders(copy)
        assert_prints(MERGE, answer_y(copy, env, MERGE).stdout, shown)
        after = sorted(p.name for p in (copy / "persons").glob("id_*"))
        assert after == ["id_2", "id_3"]
        assert len(list((copy / "persons" / "id_3").glob("*.jpg"))) == sum(
            name.endswith(".jpg") for name in before if name.startswith(("id_1/", "id_3/"))
        )

        # 4. the health check, as curl would fetch it
        url = CHECK.split()[-1].replace(":5001/", f":{port}/")

        def answered() -> bool:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())["processing"]["state"] == "done"

        wait_until(answered, "the monitor to see the merge done")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert_prints(CHECK, response.read().decode(), shown, port)
    finally:
        monitor.terminate()
        monitor.wait(timeout=60)

    # 5. undo: the three folders as they were, byte for byte
    assert_prints(UNDO, run(copy, env, UNDO).stdout, shown)
    assert folders(copy) == before
