"""scripts/get_test_data.py: checks the sample data against the sums recorded in the repository and
downloads it from its sources. Run as a user would; downloads come from a real HTTP server on loopback
(there is no internet here), and the check runs on the real shared data."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import DATA_DIR, DETECTOR, LABELLED, MOBILENET_V2, REPO, VIDEO, assert_clean_error, run_script

SCRIPT = "scripts/get_test_data.py"
MANIFEST = REPO / "scripts" / "test_data.sha256"


def manifest_paths() -> dict[str, str]:
    lines = [line.split() for line in MANIFEST.read_text().splitlines() if line and not line.startswith("#")]
    return {fields[2]: fields[3] for fields in lines}


def test_the_manifest_covers_every_file_the_tests_use(video):
    listed = manifest_paths()
    for path in (VIDEO, DETECTOR, MOBILENET_V2, *sorted(LABELLED.glob("*/*.png"))):
        assert str(path.relative_to(DATA_DIR)) in listed
    shared = {str(p.relative_to(DATA_DIR)) for p in DATA_DIR.rglob("*") if p.is_file()}
    assert shared - set(listed) == {"SOURCES.md", "reid_col780_train/manifest.csv"}  # notes, not test data
    assert all(
        source.startswith(("https://raw.githubusercontent.com/", "derived:https://")) for source in listed.values()
    )


def test_the_shared_data_checks_out(tmp_path, video):
    proc = run_script(SCRIPT, "--check", "--dest", DATA_DIR, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"all {len(manifest_paths())} files in {DATA_DIR} match their recorded sha256" in proc.stdout


@pytest.fixture
def linked_copy(tmp_path, video) -> Path:
    """The shared data as links, but for a real copy of the detector."""
    dest = tmp_path / "data"
    for path in manifest_paths():
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(DATA_DIR / path, dest / path)
    (dest / "weights" / "yolov8n_int8.tflite").unlink()
    shutil.copy2(DETECTOR, dest / "weights" / "yolov8n_int8.tflite")
    return dest


def test_a_corrupted_file_is_named_in_one_line(linked_copy, tmp_path):
    detector = linked_copy / "weights" / "yolov8n_int8.tflite"
    with detector.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\xff")
    proc = run_script(SCRIPT, "--check", "--dest", linked_copy, cwd=tmp_path)
    assert_clean_error(proc, 1, f"{detector}: sha256 differs from the recorded be21c7fcabb1")


def test_a_missing_file_is_named_in_one_line(linked_copy, tmp_path):
    (linked_copy / "reid_col780_train" / "001" / "01_1.png").unlink()
    proc = run_script(SCRIPT, "--check", "--dest", linked_copy, cwd=tmp_path)
    assert_clean_error(proc, 1, "reid_col780_train/001/01_1.png: missing; run scripts/get_test_data.py --dest")


def test_a_failed_download_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy"):  # a proxy nobody listens on: the connection is refused
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proc = run_script(SCRIPT, "--dest", tmp_path / "data", cwd=tmp_path, timeout=120)
    assert_clean_error(proc, 1, "cannot download https://raw.githubusercontent.com/")
    assert "check the connection and try again" in proc.stderr
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]  # no partial file


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on loopback serving tmp_path/served."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def manifest_line(path: str, data: bytes, source: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()} {len(data)} {path} {source}\n"


def test_downloads_are_checked_and_derived_files_reported(server, tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    root, url = server
    labels = b"background\nperson\n"
    (root / "labels.txt").write_bytes(labels)
    manifest = tmp_path / "m.sha256"
    manifest.write_text(
        "# test\n"
        + manifest_line("weights/labels.txt", labels, f"{url}/labels.txt")
        + manifest_line("mot/clip.mp4", b"x", "derived:https://example.org/img1")
    )
    dest = tmp_path / "data"
    proc = run_script(SCRIPT, "--dest", dest, "--manifest", manifest, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (dest / "weights" / "labels.txt").read_bytes() == labels
    assert (
        "mot/clip.mp4 is not there and cannot be downloaded: it was made from https://example.org/img1" in proc.stderr
    )

    (root / "labels.txt").write_bytes(b"something else\n")  # the source changed: not kept
    (dest / "weights" / "labels.txt").write_bytes(b"damaged")
    proc = run_script(SCRIPT, "--dest", dest, "--manifest", manifest, cwd=tmp_path)
    assert_clean_error(proc, 1, f"the download of {url}/labels.txt is not the recorded file (15 bytes): not kept")
    assert sorted(p.name for p in (dest / "weights").iterdir()) == ["labels.txt"]  # no partial file left


def test_a_misspelt_flag_gets_a_suggestion(tmp_path):
    assert_clean_error(run_script(SCRIPT, "--chek", cwd=tmp_path), 2, "did you mean --check?")


def test_without_the_data_the_skip_says_how_to_get_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"REID_TEST_DATA": str(tmp_path / "nowhere")}
    test = "tests/test_example_clip.py::test_the_quick_start_on_the_example_clip_finds_each_visit_in_a_folder_of_its_own"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", test],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "1 skipped" in proc.stdout, proc.stdout + proc.stderr
    assert "scripts/get_test_data.py --dest DIR` and set REID_TEST_DATA=DIR" in proc.stdout
