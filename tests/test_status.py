"""status.json: schema, tolerant reads, atomic writes, locked section updates across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reid.core.errors import StatusError
from reid.core.status import SECTIONS, SectionReporter, StatusFile, parse_status

REPO = Path(__file__).resolve().parents[1]


def test_missing_file_reads_as_idle(tmp_path):
    doc = StatusFile(tmp_path / "status.json").read()
    assert {name: doc[name]["state"] for name in SECTIONS} == {name: "idle" for name in SECTIONS}
    assert not (tmp_path / "status.json").exists()


def test_update_writes_state_and_utc_timestamp(tmp_path):
    status = StatusFile(tmp_path / "status.json")
    before = datetime.now(UTC).replace(microsecond=0)  # the stamp keeps milliseconds, cut, not rounded
    status.update_section("counting", {"state": "running", "frames_done": 10})
    after = datetime.now(UTC)
    doc = json.loads((tmp_path / "status.json").read_text())
    section = doc["counting"]
    assert section["state"] == "running" and section["frames_done"] == 10
    stamp = datetime.fromisoformat(section["updated_at"].replace("Z", "+00:00"))
    assert stamp.tzinfo is not None and stamp.utcoffset().total_seconds() == 0
    assert before <= stamp <= after  # the moment of the update
    assert doc["reid"]["state"] == "idle"


def test_update_keeps_other_sections_and_unknown_keys(tmp_path):
    path = tmp_path / "status.json"
    path.write_text(json.dumps({"reid": {"state": "done", "groups_merged": 3}, "future_key": [1, 2]}))
    StatusFile(path).update_section("counting", {"state": "done", "persons": 7})
    doc = json.loads(path.read_text())
    assert doc["reid"]["groups_merged"] == 3
    assert doc["future_key"] == [1, 2]
    assert doc["counting"]["persons"] == 7


def test_replace_drops_stale_fields_of_the_section(tmp_path):
    status = StatusFile(tmp_path / "status.json")
    status.update_section("counting", {"state": "failed", "error": "old"})
    status.update_section("counting", {"state": "running"}, replace=True)
    assert "error" not in status.read_section("counting")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "is empty"),
        ('{"counting": {"state": "runn', "not valid JSON"),
        ("[1, 2]", "found a list"),
        ('"done"', "found a string"),
        ('{"counting": [1]}', "section 'counting' must be an object"),
        ('{"reid": {"state": "exploded"}}', "state 'exploded'"),
        ('{"reid": {"state": "done", "updated_at": 5}}', "updated_at"),
    ],
)
def test_malformed_file_raises_a_clear_error(tmp_path, text, fragment):
    path = tmp_path / "status.json"
    path.write_text(text)
    with pytest.raises(StatusError, match=fragment) as info:
        StatusFile(path).read()
    assert str(path) in str(info.value)


def test_malformed_file_is_not_overwritten_by_an_update(tmp_path):
    path = tmp_path / "status.json"
    path.write_text("[1, 2]")
    with pytest.raises(StatusError):
        StatusFile(path).update_section("counting", {"state": "running"})
    assert path.read_text() == "[1, 2]"


def test_non_utf8_file_raises_status_error(tmp_path):
    path = tmp_path / "status.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(StatusError, match="UTF-8"):
        StatusFile(path).read()


def test_unknown_section_and_state_are_rejected(tmp_path):
    status = StatusFile(tmp_path / "status.json")
    with pytest.raises(ValueError, match="unknown status section"):
        status.update_section("tracking", {})
    with pytest.raises(ValueError, match="not one of"):
        status.update_section("counting", {"state": "finished"})


def test_parse_fills_absent_sections():
    doc = parse_status('{"counting": {"state": "done"}}')
    assert doc["processing"] == {"state": "idle", "updated_at": None}
    assert doc["counting"]["updated_at"] is None


def test_reporter_writes_at_a_bounded_rate(tmp_path):
    now = [0.0]
    status = StatusFile(tmp_path / "status.json")
    reporter = SectionReporter(status, "counting", min_interval=1.0, clock=lambda: now[0])
    reporter.start(frames_done=0)
    written = []
    for frame in range(1, 101):  # 100 frames over 5 simulated seconds
        now[0] = frame * 0.05
        if reporter.update(frames_done=frame):
            written.append(frame)
    assert written == [20, 40, 60, 80, 100]
    assert status.read_section("counting")["frames_done"] == 100
    now[0] = 5.01
    reporter.finish("done", persons=4)
    section = status.read_section("counting")
    assert section["state"] == "done" and section["persons"] == 4 and section["finished_at"]
    assert section["started_at"] <= section["finished_at"]


def test_reporter_survives_a_failing_write(tmp_path, caplog):
    path = tmp_path / "status.json"
    reporter = SectionReporter(StatusFile(path), "counting", min_interval=0)
    reporter.start()
    path.write_text("not json")  # someone breaks the file mid-run
    assert reporter.update(frames_done=1) is False
    assert reporter.update(frames_done=2) is False
    assert sum("status not updated" in r.message for r in caplog.records) == 1  # warned once


def _spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_reader_racing_a_writer_never_sees_invalid_json(tmp_path):
    path = tmp_path / "status.json"
    writer = _spawn(f"""
        from reid.core.status import StatusFile
        status = StatusFile({str(path)!r})
        for i in range(400):
            # a large, changing payload makes a torn write likely if writes were not atomic
            status.update_section("processing", {{"state": "running", "done": i, "pad": "x" * (i * 97 % 20000)}})
    """)
    reads = 0
    # until the writer ends (and at least one read once the file exists; a writer that died
    # without writing ends the loop too, and its exit code fails the test below)
    while writer.poll() is None or (reads == 0 and path.exists()):
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue
        doc = parse_status(text)  # raises on a torn or empty file
        assert doc["processing"]["state"] == "running"
        reads += 1
    assert writer.returncode == 0, writer.stderr.read()
    assert reads > 50
    assert StatusFile(path).read_section("processing")["done"] == 399


def test_two_writers_of_different_sections_lose_nothing(tmp_path):
    path = tmp_path / "status.json"
    code = """
        import sys
        from reid.core.status import StatusFile
        status = StatusFile({path!r})
        for i in range(1, 301):
            status.update_section({section!r}, {{"state": "running", "n": i}})
    """
    writers = [_spawn(code.format(path=str(path), section=s)) for s in ("counting", "reid")]
    last = {"counting": 0, "reid": 0}
    while any(w.poll() is None for w in writers):
        doc = StatusFile(path).read()  # raises on a torn or invalid file
        for section in last:
            seen = doc[section].get("n", 0)
            # a lost update would make a section's counter go backwards (or vanish)
            assert seen >= last[section], (section, seen, last[section])
            last[section] = seen
    for w in writers:
        assert w.returncode == 0, w.stderr.read()
    doc = StatusFile(path).read()
    assert doc["counting"]["n"] == 300 and doc["reid"]["n"] == 300


def test_files_written_atomically_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        StatusFile(tmp_path / "status.json").update_section("counting", {"state": "running"})
    finally:
        os.umask(old)
    assert (tmp_path / "status.json").stat().st_mode & 0o777 == 0o644  # readable by a monitor of another user
