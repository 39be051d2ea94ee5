"""The monitor's JSON endpoints (and ``/metrics``): each request reads ``status.json`` afresh
(``snapshot.py``), so the answers are live and a broken file only affects the requests made while
it is broken. Only the sections about the served persons folder count (``scope.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from .. import __version__
from ..core.paths import shown_path
from ..core.persons import folder_summary
from .health import Verdict
from .metrics import PROMETHEUS_CONTENT_TYPE, prometheus_text
from .snapshot import Snapshot

DEFAULT_PAGE_LIMIT = 1000
MAX_PAGE_LIMIT = 10_000

bp = Blueprint("health", __name__)


def route(blueprint: Blueprint, rule: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    # GET (and HEAD, which Flask adds); no automatic OPTIONS, so every other method is a 405
    return blueprint.route(rule, methods=["GET"], provide_automatic_options=False)


def snapshot() -> Snapshot:
    config = current_app.config
    return Snapshot.take(Path(config["STATUS_FILE"]), Path(config["PERSONS_DIR"]), config["STALL_AFTER_S"])


@route(bp, "/health")
def health() -> Response:
    """Basic health, the total person count and the age of the last status update."""
    seen = snapshot()
    folders, persons_verdict = seen.persons()
    verdict = seen.verdict
    verdict.include(persons_verdict)  # /health is never healthier than /health/persons
    updated = seen.last_update()
    body = {
        **verdict_fields(verdict),
        "persons_dir": shown_path(Path(seen.persons_dir).absolute()),
        "total_persons": len(folders),
        "last_update": iso(updated) if updated else None,
        "last_update_age_s": round((seen.now - updated).total_seconds(), 3) if updated else None,
        "stages": seen.states(),
        "checked_at": iso(seen.now),
        "version": __version__,
    }
    return json_response(body, verdict.http_status)


@route(bp, "/health/processing")
def processing() -> Response:
    """The current operation and progress of the tracking and the merge stage."""
    seen = snapshot()
    body = {**verdict_fields(seen.verdict), "checked_at": iso(seen.now)}
    for name in ("counting", "processing"):
        body[name] = seen.progress(name)
    body["errors"] = seen.errors("counting")  # the merge's are in /health/reid
    return json_response(body, seen.verdict.http_status)


@route(bp, "/health/reid")
def reid_statistics() -> Response:
    """Merge statistics and the merge's error log."""
    seen = snapshot()
    body = {**verdict_fields(seen.verdict), "checked_at": iso(seen.now)}
    body["reid"], body["errors"] = seen.merge_statistics(), seen.errors("reid")
    return json_response(body, seen.verdict.http_status)


@route(bp, "/health/persons")
def persons() -> Response:
    """Every person folder with its image count and size, by id; ``?limit=&offset=`` pages."""
    limit = int_arg("limit", DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT)
    offset = int_arg("offset", 0, 0, None)
    seen = snapshot()  # a missing folder is expected only before anything has run on it
    folders, verdict = seen.persons()
    page = [folder_summary(f) for f in folders[offset : offset + limit]]
    for entry in page:
        entry["thumbnail"] = f"/persons/{entry['name']}/thumbnail" if entry["images"] else None
    body = {
        **verdict_fields(verdict),
        "persons_dir": shown_path(Path(seen.persons_dir).absolute()),
        "total": len(folders),
        "offset": offset,
        "limit": limit,
        "count": len(page),
        "people": people(seen, len(folders)),
        "persons": page,
    }
    return json_response(body, verdict.http_status)


PEOPLE_FIELDS = ("people", "people_low", "people_high", "uncertain_pairs")


def people(seen: Snapshot, folders: int) -> dict[str, Any] | None:
    """The last merge's count of people with its range, while it still describes these folders (its
    plan carried out, or nothing to change; no folder made or removed since); else None."""
    if seen.doc is None or "reid" not in seen.owned:
        return None
    section = seen.doc["reid"]
    if section.get("state") != "done" or not section.get("count_applies") or section.get("folders_after") != folders:
        return None
    if not all(isinstance(section.get(name), int) for name in PEOPLE_FIELDS):
        return None
    return {name: section[name] for name in PEOPLE_FIELDS} | {"run_id": section.get("run_id")}


@route(bp, "/metrics")
def metrics() -> Response:
    """Prometheus text format: persons, images, progress, errors, age of the last update."""
    return Response(prometheus_text(snapshot()), content_type=PROMETHEUS_CONTENT_TYPE)


# -- helpers ------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def verdict_fields(verdict: Verdict) -> dict[str, Any]:
    return {"status": verdict.status, "output": verdict.output()}


def int_arg(name: str, default: int, low: int, high: int | None) -> int:
    """A whole-number query parameter within bounds, or a JSON 400 naming it."""
    if name not in request.args:
        return default
    value = request.args.get(name, type=int)  # None when it is not a whole number
    if value is None or value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        abort(
            400, description=f"query parameter {name} must be a whole number {bounds}, not {request.args.get(name)!r}"
        )
    return value


def json_response(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
