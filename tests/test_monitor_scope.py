"""The monitor serves one persons folder: only the sections of status.json about that folder count
(the others are named as elsewhere, without their numbers), and a tracking run that processed no video
is failed. Through Flask's test client, on status files written as the scripts write them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reid.core.status import StatusFile
from reid.matching.status import MatchingStatus
from reid.monitor.app import create_app


def iso_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working folder with two persons folders: ``persons`` and ``other/persons``."""
    monkeypatch.chdir(tmp_path)
    for folder, names in (("persons", ("id_1", "id_2")), ("other/persons", ("id_7",))):
        for name in names:
            (tmp_path / folder / name).mkdir(parents=True)
            (tmp_path / folder / name / "a.jpg").write_bytes(b"\xff\xd8jpeg")
    return tmp_path


def client_for(work: Path, persons: str):
    app = create_app({"STATUS_FILE": str(work / "status.json"), "PERSONS_DIR": persons, "STALL_AFTER_S": 120})
    return app.test_client()


def tracked(work: Path, folder: str, **fields) -> None:
    """A tracking section as obj_counting.py writes it about ``folder``."""
    section = {
        "state": "done",
        "run_id": "20261205T141501Z-aaaaaa",
        "persons_dir": str((work / folder).resolve()),
        "frames_done": 180,
        "frames_total": 180,
        "fps": 12.0,
        "persons": 2,
        "videos_done": 1,
        "videos_total": 1,
        "videos": [{"video": "videos/a.mp4", "state": "done", "persons": 2}],
        "errors": [{"time": iso_now(), "path": "videos/a.mp4", "message": "videos/a.mp4: 3 frames unreadable"}],
        **fields,
    }
    StatusFile(work / "status.json").update_section("counting", section, replace=True)


def merged(work: Path, folder: str, state: str = "done") -> MatchingStatus:
    """The merge's two sections as deeplearningg_reID.py writes them about ``folder``."""
    reporter = MatchingStatus(StatusFile(work / "status.json"), 0.0, False, Path(folder))
    reporter.start(threshold=0.45, backbone="reid-0287", folders_before=3, dry_run=True)
    reporter.error(str(work / folder / "id_7" / "x.jpg"), "unreadable")
    if state == "done":
        reporter.finish(folders_after=3, groups_merged=0, images_moved=0)
    else:
        reporter.stopped(RuntimeError("disk full"))
    return reporter


def test_the_merge_records_its_persons_folder_and_a_run_of_its_own(work):
    reporter = merged(work, "other/persons")
    doc = json.loads((work / "status.json").read_text())
    for name in ("processing", "reid"):
        assert doc[name]["persons_dir"] == str(work.resolve() / "other" / "persons")
        assert doc[name]["run_id"] == reporter.run_id
    assert merged(work, "other/persons").run_id != reporter.run_id


def test_sections_about_another_folder_are_named_and_left_out_of_the_verdict(work):
    tracked(work, "persons")
    merged(work, "other/persons", state="failed")  # the merge of the other folder failed
    served = client_for(work, "persons")
    health = served.get("/health")
    assert health.status_code == 200 and health.get_json()["status"] == "pass"
    assert health.get_json()["stages"] == {"counting": "done", "processing": "elsewhere", "reid": "elsewhere"}
    assert health.get_json()["persons_dir"] == "persons" and health.get_json()["total_persons"] == 2
    progress = served.get("/health/processing").get_json()
    assert progress["status"] == "pass"
    assert progress["counting"]["this_folder"] is True and progress["counting"]["persons_dir"] == "persons"
    assert progress["counting"]["run_id"] == "20261205T141501Z-aaaaaa"
    other = progress["processing"]
    assert other["this_folder"] is False and other["persons_dir"] == "other/persons" and other["state"] == "failed"
    assert "percent" not in other and "operation" not in other  # none of its numbers
    reid = served.get("/health/reid")
    assert reid.status_code == 200 and reid.get_json()["errors"] == []
    assert reid.get_json()["reid"]["this_folder"] is False and "folders_before" not in reid.get_json()["reid"]

    # the same status file, served for the other folder: its merge failed, the tracking is elsewhere
    other_side = client_for(work, str(work / "other" / "persons"))
    health = other_side.get("/health")
    assert health.status_code == 503 and "processing failed: disk full" in health.get_json()["output"]
    assert health.get_json()["stages"] == {"counting": "elsewhere", "processing": "failed", "reid": "failed"}
    assert other_side.get("/health/processing").get_json()["errors"] == []  # tracking's errors are not its
    reid = other_side.get("/health/reid").get_json()
    assert reid["reid"]["this_folder"] is True and reid["reid"]["folders_before"] == 3
    assert reid["reid"]["persons_dir"] == "other/persons" and [e["message"] for e in reid["errors"]] == ["unreadable"]


def test_a_missing_folder_is_only_a_fault_once_a_stage_has_run_on_it(work):
    merged(work, "other/persons")
    answer = client_for(work, "new/persons").get("/health/persons")
    assert answer.status_code == 200 and answer.get_json()["status"] == "warn"
    assert "does not exist yet" in answer.get_json()["output"]
    tracked(work, "new/persons")
    answer = client_for(work, "new/persons").get("/health/persons")
    assert answer.status_code == 503 and "does not exist, though" in answer.get_json()["output"]


def test_a_relative_folder_from_an_older_writer_is_read_from_where_status_json_is(work, tmp_path, monkeypatch):
    tracked(work, "persons", persons_dir="persons")
    monkeypatch.chdir(tmp_path / "other")  # the monitor started elsewhere, pointed at the same files
    client = client_for(work, str(work / "persons"))
    assert client.get("/health").get_json()["stages"]["counting"] == "done"
    client = client_for(work, str(work / "other" / "persons"))
    assert client.get("/health").get_json()["stages"]["counting"] == "elsewhere"


def test_a_section_naming_no_folder_is_taken_as_the_served_folders(work):
    StatusFile(work / "status.json").update_section("counting", {"state": "failed", "error": "disk full"})
    assert client_for(work, "persons").get("/health").status_code == 503


def test_an_idle_stage_has_no_operation(work):
    tracked(work, "persons")
    merging = client_for(work, "persons").get("/health/processing").get_json()["processing"]
    assert merging["state"] == "idle" and merging["operation"] is None and merging["percent"] is None


def test_an_undo_on_another_folder_replaces_the_merge_section_rather_than_mixing_them(work):
    first = merged(work, "persons")
    undo = MatchingStatus(StatusFile(work / "status.json"), 0.0, False, Path("other/persons"))
    undo.start_undo()
    undo.undone("other/persons/backup_before_merge/t")
    reid = json.loads((work / "status.json").read_text())["reid"]
    assert reid["persons_dir"] == str(work.resolve() / "other" / "persons") and "folders_before" not in reid
    again = MatchingStatus(StatusFile(work / "status.json"), 0.0, False, Path("persons"))
    merged(work, "persons")
    again.undone("persons/backup_before_merge/t")  # the same folder's merge: kept, marked undone
    reid = json.loads((work / "status.json").read_text())["reid"]
    assert reid["folders_before"] == 3 and reid["undone"] == "persons/backup_before_merge/t"
    assert reid["run_id"] != first.run_id and reid["undo_run_id"] == again.run_id


def test_metrics_count_only_the_served_folders_stages(work):
    tracked(work, "persons")
    merged(work, "other/persons", state="failed")
    text = client_for(work, "persons").get("/metrics").get_data(as_text=True)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("reid_healthy", ())] == 1
    assert samples[("reid_stage_elsewhere", (("stage", "processing"),))] == 1
    assert samples[("reid_stage_elsewhere", (("stage", "counting"),))] == 0
    assert samples[("reid_stage_state", (("stage", "processing"), ("state", "failed")))] == 0
    assert ("reid_stage_errors", (("stage", "reid"),)) not in samples


# -- a tracking run that processed nothing ------------------------------------------------------------


def videos(*states: str) -> list[dict]:
    return [{"video": f"videos/{n}.mp4", "state": state} for n, state in enumerate(states)]


@pytest.mark.parametrize(
    "states, reason",
    [
        (("failed", "failed"), "no video was processed (2 failed)"),
        (("failed", "skipped"), "no video was processed (1 failed, 1 skipped)"),
    ],
)
def test_a_tracking_run_whose_every_video_failed_or_was_skipped_is_failed(work, states, reason):
    # the section as a run ends when some videos failed and the rest were skipped: state done, 0 / 0
    tracked(work, "persons", frames_done=0, frames_total=0, fps=0.0, persons=0, videos=videos(*states))
    client = client_for(work, "persons")
    for endpoint in ("/health", "/health/processing", "/health/reid"):
        answer = client.get(endpoint)
        assert answer.status_code == 503, endpoint
        assert answer.get_json()["output"] == f"counting failed: {reason}", endpoint
    assert client.get("/health").get_json()["stages"]["counting"] == "failed"
    view = client.get("/health/processing").get_json()["counting"]
    assert view["state"] == "failed" and view["error"] == reason
    assert view["videos_failed"] == states.count("failed") and view["videos_skipped"] == states.count("skipped")


def test_a_failed_run_says_how_many_videos_failed_rather_than_its_generic_error(work):
    tracked(work, "persons", state="failed", error="no video could be processed", videos=videos("failed"))
    answer = client_for(work, "persons").get("/health")
    assert (
        answer.status_code == 503
        and answer.get_json()["output"] == "counting failed: no video was processed (1 failed)"
    )


def test_a_run_with_every_video_already_done_is_not_a_failure(work):
    tracked(work, "persons", frames_done=0, frames_total=0, videos=videos("skipped", "skipped"))
    answer = client_for(work, "persons").get("/health")
    assert answer.status_code == 200 and answer.get_json()["status"] == "pass"


def test_some_videos_failed_is_a_warning(work):
    tracked(work, "persons", videos=videos("done", "failed", "done"))
    answer = client_for(work, "persons").get("/health")
    assert answer.status_code == 200 and answer.get_json()["status"] == "warn"
    assert answer.get_json()["output"] == "counting: 1 of 3 videos failed"


def test_persons_gives_the_merges_count_of_people_while_it_describes_the_folders(work):
    """After a merge carried out: the count and its range; once the folders change (tracking made
    another, or the plan was only shown), no count: it would describe other folders."""
    reporter = MatchingStatus(StatusFile(work / "status.json"), 0.0, False, Path("persons"))
    reporter.start(threshold=0.45, backbone="reid-0287", folders_before=3, dry_run=False)
    count = {"people": 2, "people_low": 1, "people_high": 3, "uncertain_pairs": 2}
    reporter.reid.update(force=True, **count, count_applies=False)
    reporter.finish(folders_after=2, groups_merged=1, images_moved=4, count_applies=True)
    people = client_for(work, "persons").get("/health/persons").get_json()["people"]
    assert {k: people[k] for k in count} == count
    (work / "persons" / "id_3").mkdir()  # tracking added a folder since: the count is stale
    assert client_for(work, "persons").get("/health/persons").get_json()["people"] is None
    (work / "persons" / "id_3").rmdir()
    reporter.finish(folders_after=2, groups_merged=0, images_moved=0, count_applies=False)  # answered n
    assert client_for(work, "persons").get("/health/persons").get_json()["people"] is None
