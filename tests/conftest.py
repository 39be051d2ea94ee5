"""Shared fixtures: the real data in ../shared/data, script runners, small generated videos.

The shared data folder is found through ``REID_TEST_DATA`` (default: ``../shared/data``
next to the repository). Tests that need it fail in CI when it is missing (CI=true), and
are skipped with a reason elsewhere; ``scripts/get_test_data.py`` downloads it and checks
its sha256 sums.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

# TensorFlow and torch in one process segfault once ultralytics loads triton; no test needs
# triton (CPU only), so hide it before anything imports torch.
sys.modules.setdefault("triton", None)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# A shell that starts the tests in the background (`nohup ... &`) makes them ignore Ctrl-C, and every
# script they start inherits that: the tests that press Ctrl-C at a script would then wait for it
# forever. Caught here, SIGINT reaches the scripts as Ctrl-C does.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# rtsp_server.py is a program the stream tests start with the system Python (it imports gi,
# which the virtual environment lacks): not a test module, so --doctest-modules must not import it.
collect_ignore = ["rtsp_server.py"]

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("REID_TEST_DATA", REPO.parent / "shared" / "data"))
VIDEO = DATA_DIR / "video" / "one-by-one-person-detection.mp4"
DETECTOR = DATA_DIR / "weights" / "yolov8n_int8.tflite"
MOBILENET_V2 = DATA_DIR / "weights" / "mobilenet_v2_1.0_224_no_top_from_tfslim_npy.h5"
LABELLED = DATA_DIR / "reid_col780_train"


DATA_HINT = (
    "get the sample data with `.venv/bin/python scripts/get_test_data.py --dest DIR` and set "
    "REID_TEST_DATA=DIR (default: ../shared/data beside the repository)"
)


def unavailable(reason: str) -> NoReturn:
    """Skip a test whose means are missing on a user's machine; in CI (``CI`` set), where
    ``.ci/run`` installs everything and runs as root, fail instead: a skip there hides a gap."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)


def _require(path: Path) -> Path:
    if path.exists():
        return path
    unavailable(f"{path} is missing: {DATA_HINT}")


@pytest.fixture(scope="session")
def video() -> Path:
    """The real indoor video: 768x432, 10 fps, 1394 frames; persons walk in one at a time."""
    return _require(VIDEO)


@pytest.fixture(scope="session")
def detector() -> Path:
    """The real YOLOv8n COCO detector, INT8 TFLite."""
    return _require(DETECTOR)


@pytest.fixture(scope="session")
def mobilenet_v2() -> Path:
    """Genuine ImageNet MobileNetV2 weights (no top): the only real pretrained features here."""
    return _require(MOBILENET_V2)


@pytest.fixture(scope="session")
def labelled_crops() -> Path:
    """Real pedestrian crops, one folder per identity: <pid>/<camera>_<view>.png."""
    return _require(LABELLED)


def run_script(
    script: str,
    *args: str | Path,
    cwd: Path,
    timeout: float = 600,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run one of the project's scripts as a user would, from ``cwd`` (``env``: added variables)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    try:
        return subprocess.run(
            [sys.executable, str(REPO / script), *map(str, args)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,  # a hang guard, not a speed: subprocess.run kills the script when it passes
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang guard: {script} was still running after {timeout:.0f} s and was killed")


def wait_until(condition: Callable[[], object], what: str, timeout: float = 300, every: float = 0.1) -> None:
    """Poll ``condition`` until it is true. ``timeout`` is a hang guard, never the thing tested: when it
    passes the test fails, naming ``what`` it waited for. A file not there yet, or caught while another
    process replaces it (``OSError``, ``ValueError``, ``KeyError``), counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (OSError, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"hang guard: still waiting for {what} after {timeout:.0f} s")
        time.sleep(every)


def run_in_terminal(script: str, *args: str | Path, cwd: Path, timeout: float = 600) -> tuple[int, str]:
    """Run ``script`` with stdout and stderr on a 120-column terminal; its exit code and raw output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, str(REPO / script), *map(str, args)],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"},
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while True:
        if not select.select([master], [], [], max(0.0, deadline - time.monotonic()))[0]:
            proc.kill()
            raise TimeoutError(f"{script} still running after {timeout} s")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end closed: the script ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(timeout=timeout), b"".join(chunks).decode("utf-8", errors="replace")


def visible_lines(output: str) -> list[str]:
    """The lines left on the screen: on each line, what the last carriage return left visible."""
    lines = output.replace("\r\n", "\n").split("\n")
    return [line.split("\r")[-1].rstrip() for line in lines if line.split("\r")[-1].strip()]


def assert_clean_error(proc: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    """The run failed with exit ``code`` and one ``Error: ...`` line naming ``fragment``, no traceback."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    assert "Traceback" not in output, output
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, proc.stderr
    assert fragment in errors[0], errors[0]


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root``, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def write_video(path: Path, frames: int, size: tuple[int, int] = (320, 240), fps: float = 10.0) -> Path:
    """A small synthetic MJPG video whose frame i has brightness i (so frames can be told apart),
    with its file name drawn in the top row, so that two such videos are different videos."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    marker = np.frombuffer(hashlib.sha256(Path(path).name.encode()).digest(), np.uint8)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), i % 256, np.uint8)
        frame[0, : len(marker)] = marker[:, None]
        writer.write(frame)
    writer.release()
    return path


def clip_of(video: Path, path: Path, start: int, frames: int, codec: str = "mp4v") -> Path:
    """Frames ``start`` .. ``start + frames - 1`` of ``video`` as a video of their own (``codec``: a FourCC)."""
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), capture.get(cv2.CAP_PROP_FPS), size)
    for _ in range(frames):
        ok, frame = capture.read()
        assert ok
        writer.write(frame)
    writer.release()
    capture.release()
    return path


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size (a decompression bomb) with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def readonly_dir(tmp_path: Path):
    """A folder nothing can be written into, even by root (a read-only tmpfs when running as root)."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", f"ro-{uuid.uuid4().hex[:6]}", str(folder)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        unavailable(f"cannot make a read-only folder as root here: {result.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
