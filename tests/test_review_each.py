"""deeplearningg_reID.py --review-each at a terminal, on real crops with the re-ID network trained for it:
each proposed split and group is answered on its own, only what was accepted is carried out (one
member left out of a group stays where it was), and --undo restores every byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_matching_run import reid_0287, write_folder  # noqa: F401 (a fixture)

from conftest import REPO, assert_clean_error, run_script, tree_hashes


@pytest.fixture
def workdir(tmp_path, labelled_crops):
    return make_workdir(tmp_path, labelled_crops)


def make_workdir(tmp_path: Path, labelled_crops: Path) -> Path:
    """id_1, id_2, id_9: three fragments of person 022 (id_9 repeats id_1's views later on); id_3, id_7:
    two of person 003 (id_7 repeats id_3's views); id_4: person 008; id_5: person 011's track handed over
    to person 019."""
    persons = tmp_path / "persons"

    def folder(name: str, person_id: int, crops: list[Path], first: int) -> None:
        write_folder(persons, name, person_id, crops, first)

    def views(pid: str) -> list[Path]:
        return sorted((labelled_crops / pid).glob("01_*.png"))

    folder("id_1", 1, views("022")[:4], 0)
    folder("id_2", 2, views("022")[4:], 400)
    folder("id_3", 3, views("003")[:4], 0)
    folder("id_4", 4, views("008"), 800)
    folder("id_5", 5, views("011")[:4] + views("019")[:4], 1200)
    folder("id_7", 7, views("003")[:4], 1600)
    folder("id_9", 9, views("022")[:4], 2000)
    return tmp_path


def review_each(
    workdir: Path, model: Path, answers: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The script at a pseudo-terminal, with ``answers`` typed one per line."""
    primary, secondary = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "deeplearningg_reID.py"), "--backbone", "reid-0287", "--weights", str(model)]
            + ["--no-progress", "--review-each"],
            cwd=workdir,
            env=env,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(primary, "".join(a + "\n" for a in answers).encode())  # the terminal keeps them for the prompts
        out, err = process.communicate(timeout=600)
    finally:
        os.close(secondary)
        os.close(primary)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def crops(persons: Path) -> dict[str, list[str]]:
    return {p.name: sorted(c.name for c in p.glob("*.png")) for p in sorted(persons.glob("id_*"))}


@pytest.mark.slow
def test_each_proposal_is_answered_and_only_the_accepted_are_carried_out(workdir, reid_0287):  # noqa: F811
    persons = workdir / "persons"
    before, crops_before = tree_hashes(persons), crops(persons)
    plan = run_script(
        "deeplearningg_reID.py", "--backbone", "reid-0287", "--weights", reid_0287, "--dry-run", cwd=workdir
    )
    assert plan.returncode == 0, plan.stderr
    assert "1. id_1 (4 crops)  <-  id_2 (4 crops), id_9 (4 crops)" in plan.stdout
    assert "2. id_3 (4 crops)  <-  id_7 (4 crops)" in plan.stdout and "id_5 seems to change person" in plan.stdout

    # the split refused, id_9 left out of the first group, the second group refused
    proc = review_each(workdir, reid_0287, ["n", "id_9", "n"])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert "Split 1 of 1: id_5 seems to change person" in out
    assert "Group 1 of 2: id_1  <-  id_2, id_9 (similarity min" in out
    assert "Leaving out id_9: id_1  <-  id_2." in out
    assert "Group 2 of 2: id_3  <-  id_7" in out
    assert "Accepted 1 of 3 proposals." in out
    assert "Merged 1 group: 7 -> 6 person folders, 4 files moved." in out

    after = crops(persons)
    assert "id_2" not in after and after["id_1"] == sorted(crops_before["id_1"] + crops_before["id_2"])
    for untouched in ("id_3", "id_4", "id_5", "id_7", "id_9"):
        assert after[untouched] == crops_before[untouched], untouched
    status = json.loads((workdir / "status.json").read_text())["reid"]
    assert status["groups_merged"] == 1 and status["folders_after"] == 6 and status["people"] == 6

    # after the merge, id_1 holds id_2's track too: still kept apart from id_9, and nothing else is proposed
    merged = run_script(
        "deeplearningg_reID.py", "--backbone", "reid-0287", "--weights", reid_0287, "--dry-run", cwd=workdir
    )
    assert merged.returncode == 0, merged.stderr
    assert "Your earlier answers" in merged.stdout and "Proposed" not in merged.stdout
    assert "nothing to merge" in merged.stdout

    undone = run_script("deeplearningg_reID.py", "--undo", cwd=workdir)
    assert undone.returncode == 0, undone.stderr
    assert {k: v for k, v in tree_hashes(persons).items() if k.startswith("id_")} == {
        k: v for k, v in before.items() if k.startswith("id_")
    }

    # the answers outlive the merge and its undo: the next plan proposes none of what was refused
    assert "Your answers are kept in persons/.answers.json" in out
    again = run_script(
        "deeplearningg_reID.py", "--backbone", "reid-0287", "--weights", reid_0287, "--dry-run", cwd=workdir
    )
    assert again.returncode == 0, again.stderr
    earlier = "2 pairs kept apart, 1 folder kept whole, 1 pair said to be one person"
    assert f"Your earlier answers (persons/.answers.json): {earlier}." in again.stdout
    together = json.loads((persons / ".answers.json").read_text())["together"]  # id_2 merged into id_1
    assert len(together) == 1 and -1 <= together[0]["similarity"] <= 1
    assert together[0]["cameras"] == ["/videos/hall.mp4", "/videos/hall.mp4"]
    assert "id_5 seems to change person" not in again.stdout  # the split refused
    assert "1. id_1 (4 crops)  <-  id_2 (4 crops)\n" in again.stdout  # id_9 stays out of it
    assert "id_7" not in again.stdout.split("Proposed merges:")[1].split("After the merge")[0]

    forgotten = run_script("deeplearningg_reID.py", "--forget-answers", cwd=workdir)
    assert forgotten.returncode == 0, forgotten.stderr
    copies = list((persons / "backup_before_merge").glob("answers-*.json"))
    assert len(copies) == 1
    assert f"Your answers are forgotten; a copy is in persons/backup_before_merge/{copies[0].name}." in forgotten.stdout
    assert not (persons / ".answers.json").exists()
    assert json.loads(copies[0].read_text())["apart"]  # the copy holds them
    fresh = run_script(
        "deeplearningg_reID.py", "--backbone", "reid-0287", "--weights", reid_0287, "--dry-run", cwd=workdir
    )
    assert "id_5 seems to change person" in fresh.stdout and "Your earlier answers" not in fresh.stdout
    assert (
        run_script("deeplearningg_reID.py", "--forget-answers", cwd=workdir).stdout
        == "No answers to forget in persons.\n"
    )


def test_unreadable_answers_are_one_clear_error_and_nothing_changes(tmp_path):
    persons = tmp_path / "persons"
    (persons / "id_1").mkdir(parents=True)
    (persons / "id_2").mkdir()
    (persons / ".answers.json").write_text("{not json")
    proc = run_script("deeplearningg_reID.py", "--dry-run", cwd=tmp_path)
    assert_clean_error(proc, 1, "persons/.answers.json (your earlier answers) cannot be read")
    assert (persons / ".answers.json").read_text() == "{not json"


@pytest.mark.slow
def test_refusing_every_proposal_changes_nothing(workdir, reid_0287):  # noqa: F811
    persons = workdir / "persons"

    def folders() -> dict[str, str]:
        return {k: v for k, v in tree_hashes(persons).items() if k.startswith("id_")}

    before = folders()
    proc = review_each(workdir, reid_0287, ["n", "maybe", "n", "n"])  # an unclear answer is asked again
    assert proc.returncode == 0, proc.stderr
    assert "Answer y, n or one of id_1, id_2, id_9." in proc.stdout
    assert "Accepted 0 of 3 proposals." in proc.stdout and "Nothing was merged." in proc.stdout
    assert folders() == before
    assert not (persons / "backup_before_merge").exists()


def test_review_each_without_a_terminal_is_a_clean_error(tmp_path):
    (tmp_path / "persons").mkdir()
    proc = run_script("deeplearningg_reID.py", "--review-each", "--yes", cwd=tmp_path)
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_killed_while_carrying_out_the_answers_the_next_run_finishes_it_and_no_answer_is_lost(
    workdir,
    reid_0287,  # noqa: F811
):
    persons = workdir / "persons"
    crops_before = crops(persons)
    # SIGKILLed in the middle of the accepted merge (id_2's second crop moved into id_1)
    killed = review_each(workdir, reid_0287, ["n", "id_9", "n"], env=os.environ | {"REID_FAULT_AT": "moved:1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    kept = json.loads((persons / ".answers.json").read_text())  # written before anything was moved
    assert (len(kept["apart"]), len(kept["whole"]), len(kept["together"])) == (2, 1, 1)

    again = run_script("deeplearningg_reID.py", "--backbone", "reid-0287", "--weights", reid_0287, "--yes", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "Note: " in again.stdout  # the interrupted merge was finished (or rolled back) first, and said so
    after = crops(persons)
    assert after["id_1"] == sorted(crops_before["id_1"] + crops_before["id_2"]) and "id_2" not in after
    for untouched in ("id_3", "id_4", "id_5", "id_7", "id_9"):  # the answers still keep them as they were
        assert after[untouched] == crops_before[untouched], untouched
