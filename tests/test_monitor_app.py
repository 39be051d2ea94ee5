"""The monitor app through Flask's test client: every endpoint in every status state."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reid.core.status import parse_status
from reid.monitor.app import create_app
from reid.monitor.health import assess, number, parse_time, stage_progress

REPO = Path(__file__).resolve().parents[1]
ENDPOINTS = ["/health", "/health/processing", "/health/reid", "/health/persons", "/metrics"]
NOW = datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def running_counting(age_s: float, now: datetime) -> dict:
    return {
        "state": "running",
        "updated_at": iso(now - timedelta(seconds=age_s)),
        "started_at": iso(now),
        "frames_done": 250,
        "frames_total": 1000,
        "fps": 25.0,
        "eta_s": 30.0,
        "persons": 3,
        "current_video": "videos/a.mp4",
        "videos_done": 0,
        "videos_total": 2,
    }


def states(now: datetime) -> dict:
    """Status documents written ``now`` (ages are relative to the moment a test runs)."""
    return {
        "missing": None,
        "idle": {},
        "running": {"counting": running_counting(1, now)},
        "stalled": {"counting": running_counting(3600, now)},
        "done": {
            "counting": {**running_counting(5, now), "state": "done", "frames_done": 1000},
            "reid": {
                "state": "done",
                "updated_at": iso(now),
                "groups_merged": 2,
                "images_moved": 40,
                "errors": [{"time": iso(now), "path": "persons/id_3/x.jpg", "message": "unreadable"}],
            },
        },
        "failed": {"counting": {**running_counting(5, now), "state": "failed", "error": "disk full"}},
    }


STATES = list(states(NOW))
# state -> (HTTP status of the status-based endpoints, health status, words in the reason)
EXPECTED = {
    "missing": (200, "pass", None),
    "idle": (200, "pass", None),
    "running": (200, "pass", None),
    "stalled": (503, "fail", "stalled"),
    "done": (200, "pass", None),
    "failed": (503, "fail", "counting failed: disk full"),
}


@pytest.fixture
def files(tmp_path):
    persons = tmp_path / "persons"
    for name, images in (("id_10", 3), ("id_2", 1), ("id_108.0", 2)):
        (persons / name).mkdir(parents=True)
        for i in range(images):
            (persons / name / f"f{i}.jpg").write_bytes(b"\xff\xd8" + b"x" * (100 * (i + 1)))
    (persons / "id_2" / "track.json").write_text("{}")
    (persons / "backup_before_merge" / "t" / "id_2").mkdir(parents=True)
    return tmp_path / "status.json", persons


@pytest.fixture
def client(files):
    status, persons = files
    app = create_app({"STATUS_FILE": str(status), "PERSONS_DIR": str(persons), "STALL_AFTER_S": 120})
    return app.test_client()


def write_state(path: Path, state: str) -> None:
    document = states(datetime.now(UTC))[state]
    if document is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(json.dumps(document))


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("endpoint", ["/health", "/health/processing", "/health/reid"])
def test_status_endpoints_in_every_state(client, files, state, endpoint):
    write_state(files[0], state)
    response = client.get(endpoint)
    code, status, reason = EXPECTED[state]
    assert response.status_code == code
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["status"] == status
    if reason:
        assert reason in body["output"]
    else:
        assert body["output"] is None


def test_health_reports_persons_and_age(client, files):
    write_state(files[0], "running")
    body = client.get("/health").get_json()
    assert body["total_persons"] == 3
    assert body["stages"] == {"counting": "running", "processing": "idle", "reid": "idle"}
    assert 0 <= body["last_update_age_s"] < 60


def test_health_when_nothing_has_run(client, files):
    body = client.get("/health").get_json()
    assert body["last_update"] is None and body["last_update_age_s"] is None and body["total_persons"] == 3


def test_processing_shows_progress_of_both_stages(client, files):
    write_state(files[0], "running")
    body = client.get("/health/processing").get_json()
    counting = body["counting"]
    assert (counting["state"], counting["operation"], counting["done"], counting["total"]) == (
        "running",
        "tracking",
        250,
        1000,
    )
    assert counting["percent"] == 25.0 and counting["eta_s"] == 30.0 and counting["current"] == "videos/a.mp4"
    assert counting["stalled"] is False and counting["persons"] == 3
    assert body["processing"]["state"] == "idle" and body["processing"]["percent"] is None


def test_stalled_stage_is_flagged(client, files):
    write_state(files[0], "stalled")
    body = client.get("/health/processing").get_json()
    assert body["counting"]["stalled"] is True and body["counting"]["age_s"] > 3000


def test_reid_shows_statistics_and_errors(client, files):
    write_state(files[0], "done")
    body = client.get("/health/reid").get_json()
    assert body["reid"]["groups_merged"] == 2 and body["reid"]["images_moved"] == 40
    assert body["errors"][0]["message"] == "unreadable"
    assert "errors" not in body["reid"]


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("", "is empty"),
        ('{"counting": {"state": "run', "not valid JSON"),
        ("[1, 2, 3]", "found a list"),
        ('{"counting": "done"}', "must be an object"),
        ('{"processing": {"state": 7}}', "state 7"),
    ],
)
@pytest.mark.parametrize("endpoint", ["/health", "/health/processing", "/health/reid"])
def test_unreadable_status_is_a_503_with_the_reason(client, files, content, fragment, endpoint):
    files[0].write_text(content)
    response = client.get(endpoint)
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail" and fragment in body["output"]


def test_wrong_types_inside_sections_do_not_break_answers(client, files):
    files[0].write_text(
        json.dumps(
            {
                "counting": {
                    "state": "running",
                    "updated_at": iso(datetime.now(UTC)),
                    "frames_done": "many",
                    "frames_total": None,
                    "percent": True,
                    "operation": 5,
                    "errors": "oops",
                },
                "reid": {"state": "done", "errors": [1, "x", {"message": "ok"}]},
            }
        )
    )
    for endpoint in ENDPOINTS:
        response = client.get(endpoint)
        assert response.status_code == 200, endpoint
    counting = client.get("/health/processing").get_json()["counting"]
    assert counting["done"] is None and counting["percent"] is None and counting["operation"] == "tracking"
    assert client.get("/health/reid").get_json()["errors"] == [{"message": "ok"}]


def test_persons_lists_folders_by_id_with_counts_and_sizes(client):
    body = client.get("/health/persons").get_json()
    assert body["status"] == "pass" and body["total"] == 3
    assert [(p["name"], p["id"], p["images"]) for p in body["persons"]] == [
        ("id_2", 2, 1),
        ("id_10", 10, 3),
        ("id_108.0", 108, 2),
    ]
    assert body["persons"][1]["bytes"] == sum(2 + 100 * (i + 1) for i in range(3))


def test_persons_says_which_folders_a_tracking_run_has_not_finished(client, files):
    """A folder whose track.json says ``complete: false`` (tracked now, or left by a killed run) is
    counted and flagged, on the page and in /metrics, never counted as a finished person silently."""
    _, persons = files
    (persons / "id_10" / "track.json").write_text(json.dumps({"schema": 1, "complete": False, "crops": []}))
    (persons / "id_2" / "track.json").write_text(json.dumps({"schema": 1, "complete": True, "crops": []}))
    flags = {p["name"]: p["unfinished"] for p in client.get("/health/persons").get_json()["persons"]}
    assert flags == {"id_2": False, "id_10": True, "id_108.0": False}
    assert "reid_persons_unfinished 1.0" in client.get("/metrics").get_data(as_text=True)


def test_persons_pagination(client):
    body = client.get("/health/persons?limit=1&offset=1").get_json()
    assert (body["total"], body["count"], body["offset"], body["limit"]) == (3, 1, 1, 1)
    assert [p["name"] for p in body["persons"]] == ["id_10"]
    assert client.get("/health/persons?offset=10").get_json()["persons"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "offset=-1", "limit=100000", "offset=1.5"])
def test_persons_bad_paging_is_a_json_400(client, query):
    response = client.get(f"/health/persons?{query}")
    assert response.status_code == 400
    assert response.get_json()["status"] == "fail" and "query parameter" in response.get_json()["output"]


def test_symlinks_are_never_followed_out_of_the_persons_folder(client, files, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    for i in range(5):
        (outside / f"secret{i}.jpg").write_bytes(b"x")
    os.symlink(outside, files[1] / "id_99")
    os.symlink(outside / "secret0.jpg", files[1] / "id_2" / "link.jpg")
    body = client.get("/health/persons").get_json()
    assert "id_99" not in [p["name"] for p in body["persons"]]
    assert [p["images"] for p in body["persons"] if p["name"] == "id_2"] == [1]


SWAPPER = """
import os, sys, time
crop, secret, stop = sys.argv[1:4]
while not os.path.exists(stop):
    os.symlink(secret, crop + ".link")
    os.replace(crop + ".link", crop)  # the crop is now a link out of the persons folder ...
    with open(crop + ".new", "wb") as handle:
        handle.write(b"\\xff\\xd8crop")
    os.replace(crop + ".new", crop)  # ... and a plain crop again
"""


def test_a_crop_swapped_for_a_link_after_the_listing_is_never_served(client, files, tmp_path):
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"SECRET")
    crop, stop = files[1] / "id_2" / "f0.jpg", tmp_path / "stop"
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(crop), str(secret), str(stop)])
    served = collections.Counter()
    try:
        for _ in range(3000):
            response = client.get("/persons/id_2/thumbnail")
            served[response.status_code, response.data[:6]] += 1
    finally:
        stop.touch()
        swapper.wait(timeout=30)
    assert served[200, b"SECRET"] == 0, served
    assert served[200, b"\xff\xd8crop"] > 0, served  # the crop itself was served in between


def test_missing_persons_folder(client, files):
    import shutil

    shutil.rmtree(files[1])
    # before anything has run, a missing folder is expected (the monitor may start first): a warning
    for endpoint in ("/health", "/health/persons"):
        response = client.get(endpoint)
        body = response.get_json()
        assert response.status_code == 200 and body["status"] == "warn", endpoint
        assert "does not exist yet" in body["output"]
    assert client.get("/health").get_json()["total_persons"] == 0
    # once a stage has run, the folder should be there: both fail, with the same reason
    write_state(files[0], "done")
    for endpoint in ("/health", "/health/persons"):
        response = client.get(endpoint)
        assert response.status_code == 503 and response.get_json()["status"] == "fail", endpoint
        assert "does not exist, though status.json shows a stage has run" in response.get_json()["output"]
    assert client.get("/metrics").status_code == 200


def test_unknown_path_is_a_json_404(client):
    response = client.get("/health/everything")
    assert response.status_code == 404 and response.get_json()["error"] == "Not Found"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_methods_other_than_get_and_head_are_a_json_405(client, method, endpoint):
    response = client.open(endpoint, method=method)
    assert response.status_code == 405
    assert response.get_json()["error"] == "Method Not Allowed"
    assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_head_is_answered_without_a_body(client, endpoint):
    response = client.head(endpoint)
    assert response.status_code == 200 and response.data == b""


def test_metrics_in_prometheus_text_format(client, files):
    write_state(files[0], "done")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }
    assert samples[("reid_persons", ())] == 3
    assert samples[("reid_person_images", ())] == 6
    assert samples[("reid_status_readable", ())] == 1 and samples[("reid_healthy", ())] == 1
    assert samples[("reid_stage_state", (("stage", "counting"), ("state", "done")))] == 1
    assert samples[("reid_stage_progress_ratio", (("stage", "counting"),))] == 1.0
    assert samples[("reid_stage_errors", (("stage", "reid"),))] == 1
    assert samples[("reid_tracking_persons", ())] == 3


def test_metrics_with_a_corrupt_status_file(client, files):
    files[0].write_text("{")
    text = client.get("/metrics").get_data(as_text=True)
    assert "reid_status_readable 0.0" in text and "reid_healthy 0.0" in text and "reid_persons 3.0" in text


def test_the_monitor_never_loads_tensorflow_or_torch():
    code = (
        "import sys, health_check; from reid.monitor.app import create_app; create_app().test_client().get('/health');"
        "heavy = {'tensorflow', 'torch', 'ultralytics', 'keras', 'cv2'} & set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- the pure verdict logic ------------------------------------------------------------


def test_assess_reports_each_failed_or_stalled_stage():
    doc = parse_status(json.dumps({"counting": running_counting(500, NOW), "reid": {"state": "failed"}}))
    verdict = assess(doc, NOW, stall_after_s=120)
    assert verdict.http_status == 503
    assert verdict.problems[0].startswith("counting is running but has not updated for 500 s")
    assert verdict.problems[1] == "reid failed"


def test_a_running_stage_without_a_timestamp_is_stalled():
    doc = parse_status(json.dumps({"processing": {"state": "running"}}))
    assert "has not updated at all" in assess(doc, NOW, 120).output()


def test_stage_progress_uses_a_written_percent_and_the_merge_fields():
    view = stage_progress(
        "processing",
        {
            "state": "running",
            "operation": "extracting features",
            "done": 5,
            "total": 20,
            "percent": 24.9,
            "current_folder": "id_4",
            "updated_at": iso(NOW),
        },
        NOW,
        120,
    )
    assert (view["operation"], view["done"], view["total"], view["percent"], view["current"]) == (
        "extracting features",
        5,
        20,
        24.9,
        "id_4",
    )


@pytest.mark.parametrize(
    "value, expected", [(3, 3), (2.5, 2.5), (True, None), ("3", None), (None, None), (float("nan"), None)]
)
def test_number(value, expected):
    assert number(value) == expected


def test_parse_time():
    assert parse_time("2026-11-24T08:00:00Z") == datetime(2026, 11, 24, 8, tzinfo=UTC)
    assert parse_time("2026-11-24T08:00:00").tzinfo == UTC
    assert parse_time("yesterday") is None and parse_time(5) is None


SEVERITY = {"pass": 0, "warn": 1, "fail": 2}


@pytest.mark.parametrize("folder", ["present", "missing", "unreadable"])
@pytest.mark.parametrize("state", STATES)
def test_health_is_never_healthier_than_any_part(client, files, monkeypatch, state, folder):
    import shutil

    write_state(files[0], state)
    if folder == "missing":
        shutil.rmtree(files[1])
    elif folder == "unreadable":  # root reads any mode bits: make the listing fail as EACCES would

        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("reid.monitor.snapshot.list_person_folders", denied)
    overall = client.get("/health")
    for part in ("/health/processing", "/health/reid", "/health/persons"):
        answer = client.get(part)
        assert SEVERITY[overall.get_json()["status"]] >= SEVERITY[answer.get_json()["status"]], part
        assert overall.status_code >= answer.status_code, part
        if answer.status_code == 503:
            assert answer.get_json()["output"] in overall.get_json()["output"], part
