"""``--persons`` naming a file: the same one-line message from the merge, the undo, the monitor (at start
and, if the file appears later, in /health/persons) and tracking's check; a missing folder is told apart."""

from __future__ import annotations

import pytest

from conftest import assert_clean_error, run_script
from reid.core.errors import InputError
from reid.core.persons_dir import prepare_persons_folder, require_persons_dir
from reid.monitor.app import create_app

MESSAGE = "persons folder notes.txt exists and is not a folder: give --persons a folder"


@pytest.fixture
def work(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder\n")
    return tmp_path


@pytest.mark.parametrize(
    "script, args",
    [
        ("deeplearningg_reID.py", ["--dry-run"]),
        ("deeplearningg_reID.py", ["--yes"]),
        ("deeplearningg_reID.py", ["--undo"]),
        ("health_check.py", ["--port", "0"]),
    ],
)
def test_every_script_says_the_file_is_not_a_folder(work, script, args):
    proc = run_script(script, *args, "--persons", "notes.txt", cwd=work, timeout=120)
    assert_clean_error(proc, 1, MESSAGE)
    assert (work / "notes.txt").read_text() == "not a folder\n"


def test_a_missing_folder_is_told_apart(work):
    proc = run_script("deeplearningg_reID.py", "--undo", "--persons", "nowhere", cwd=work, timeout=120)
    assert_clean_error(proc, 1, "persons folder nowhere does not exist: run obj_counting.py first")


def test_the_monitor_says_so_when_the_folder_becomes_a_file(work, monkeypatch):
    monkeypatch.chdir(work)
    client = create_app({"STATUS_FILE": str(work / "status.json"), "PERSONS_DIR": "notes.txt"}).test_client()
    for endpoint in ("/health/persons", "/health"):
        answer = client.get(endpoint)
        assert answer.status_code == 503 and answer.get_json()["output"] == MESSAGE, endpoint


def test_the_checks_tracking_and_the_merge_share(work, monkeypatch):
    monkeypatch.chdir(work)
    for check in (prepare_persons_folder, require_persons_dir):
        with pytest.raises(InputError, match=f"^{MESSAGE}$"):
            check(work / "notes.txt")
    prepare_persons_folder(work / "persons")  # created, as tracking needs it
    require_persons_dir(work / "persons")
