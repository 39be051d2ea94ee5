"""The health monitor's web app: Flask lives here only.

``create_app`` builds the app (Flask tutorial style: no module-level app, config passed
in). Every request reads ``status.json`` afresh; nothing is cached between requests, so
the answers are live and a broken file only affects the requests made while it is broken.

All answers are JSON (``/metrics`` is Prometheus text, ``/`` the dashboard page and
``/persons/<folder>/thumbnail`` a crop), carry ``Cache-Control: no-store``, and errors never
expose a traceback. The app is read-only and takes no path from the client (a thumbnail is
asked for by folder name, checked against the listing, and the crop chosen here), so no
request can reach outside the persons folder.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from .. import __version__
from ..core.config import DEFAULT_PERSONS, DEFAULT_STATUS, STALL_AFTER_S
from ..core.errors import StatusError
from ..core.persons import folder_summary, list_images, list_person_folders
from ..core.status import SECTIONS, StatusFile
from .health import Verdict, age_seconds, assess, assess_persons, error_log, last_update, stage_progress
from .metrics import PROMETHEUS_CONTENT_TYPE, prometheus_text

log = logging.getLogger(__name__)

DEFAULT_PAGE_LIMIT = 1000
MAX_PAGE_LIMIT = 10_000

bp = Blueprint("health", __name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The monitor app. Settings: STATUS_FILE, PERSONS_DIR, STALL_AFTER_S (a running stage
    silent for longer is reported as stalled)."""
    app = Flask(__name__)
    app.config.from_mapping(
        STATUS_FILE=str(DEFAULT_STATUS), PERSONS_DIR=str(DEFAULT_PERSONS), STALL_AFTER_S=STALL_AFTER_S
    )
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(_no_store)
    return app


def _route(rule: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    # GET (and HEAD, which Flask adds); no automatic OPTIONS, so every other method is a 405
    return bp.route(rule, methods=["GET"], provide_automatic_options=False)


# -- endpoints ----------------------------------------------------------------------------

DASHBOARD_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@_route("/")
def dashboard() -> Response:
    """A page that polls the JSON endpoints: progress bars, counts, errors, person thumbnails."""
    page = (Path(__file__).parent / "static" / "dashboard.html").read_bytes()
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = DASHBOARD_CSP
    return response


@_route("/persons/<name>/thumbnail")
def thumbnail(name: str) -> Response:
    """One crop of a person folder. The folder must be one that /health/persons lists and the
    crop is chosen here, so no request can name a path, let alone one outside the folder."""
    persons_dir = Path(current_app.config["PERSONS_DIR"])
    try:
        folders = {f.name: f for f in list_person_folders(persons_dir, missing_ok=False)}
        images = list_images(folders[name]) if name in folders else []
    except OSError:
        images = []
    if not images:
        abort(404, description=f"no person folder {name!r} with a crop")
    crop = images[len(images) // 2]  # the middle of the track: the person is usually well in view
    handle = _open_inside(persons_dir, name, crop.name)
    if handle is None:
        abort(404, description=f"the crop of {name!r} just went away (merged?)")
    return send_file(
        handle,
        mimetype=mimetypes.guess_type(crop.name)[0] or "application/octet-stream",
        max_age=0,
        conditional=False,
        download_name=crop.name,
    )


def _open_inside(persons_dir: Path, folder: str, file: str) -> BinaryIO | None:
    """``persons_dir/folder/file`` opened for reading without following a symbolic link at the
    folder or the file (each opened relative to its parent), so a name swapped for a link after
    the listing cannot lead outside; None if that is what happened, or the file is gone."""
    no_follow = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        root = os.open(persons_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        inside = os.open(folder, no_follow | os.O_DIRECTORY, dir_fd=root)
        try:
            fd = os.open(file, no_follow, dir_fd=inside)
        finally:
            os.close(inside)
    except OSError:  # ELOOP for a link, ENOENT for a file merged away
        return None
    finally:
        os.close(root)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


@_route("/health")
def health() -> Response:
    """Basic health, the total person count and the age of the last status update."""
    now = _now()
    doc, verdict = _read_status(now)
    folders, persons_verdict = _list_persons(doc)
    verdict.include(persons_verdict)  # /health is never healthier than /health/persons
    updated = last_update(doc) if doc else None
    body = {
        **_verdict_fields(verdict),
        "total_persons": len(folders),
        "last_update": _iso(updated) if updated else None,
        "last_update_age_s": round((now - updated).total_seconds(), 3) if updated else None,
        "stages": {name: doc[name].get("state") for name in SECTIONS} if doc else None,
        "checked_at": _iso(now),
        "version": __version__,
    }
    return _json(body, verdict.http_status)


@_route("/health/processing")
def processing() -> Response:
    """The current operation and progress of the tracking and the merge stage."""
    now = _now()
    doc, verdict = _read_status(now)
    stall = current_app.config["STALL_AFTER_S"]
    body = {**_verdict_fields(verdict), "checked_at": _iso(now)}
    for name in ("counting", "processing"):
        body[name] = stage_progress(name, doc[name], now, stall) if doc else None
    body["errors"] = error_log(doc["counting"]) if doc else []  # the merge's are in /health/reid
    return _json(body, verdict.http_status)


@_route("/health/reid")
def reid_statistics() -> Response:
    """Merge statistics and the merge's error log."""
    now = _now()
    doc, verdict = _read_status(now)
    body = {**_verdict_fields(verdict), "checked_at": _iso(now)}
    if doc:
        section = doc["reid"]
        body["reid"] = {k: v for k, v in section.items() if k != "errors"}
        body["reid"]["age_s"] = age_seconds(section, now)
        body["errors"] = error_log(section)
    else:
        body["reid"], body["errors"] = None, []
    return _json(body, verdict.http_status)


@_route("/health/persons")
def persons() -> Response:
    """Every person folder with its image count and size, by id; ``?limit=&offset=`` pages."""
    limit = _int_arg("limit", DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT)
    offset = _int_arg("offset", 0, 0, None)
    doc, _ = _read_status(_now())  # a missing folder is expected only before anything has run
    folders, verdict = _list_persons(doc)
    page = [folder_summary(f) for f in folders[offset : offset + limit]]
    for entry in page:
        entry["thumbnail"] = f"/persons/{entry['name']}/thumbnail" if entry["images"] else None
    body = {
        **_verdict_fields(verdict),
        "persons_dir": str(current_app.config["PERSONS_DIR"]),
        "total": len(folders),
        "offset": offset,
        "limit": limit,
        "count": len(page),
        "persons": page,
    }
    return _json(body, verdict.http_status)


@_route("/metrics")
def metrics() -> Response:
    """Prometheus text format: persons, images, progress, errors, age of the last update."""
    body = prometheus_text(
        Path(current_app.config["STATUS_FILE"]),
        Path(current_app.config["PERSONS_DIR"]),
        current_app.config["STALL_AFTER_S"],
    )
    return Response(body, content_type=PROMETHEUS_CONTENT_TYPE)


# -- helpers ------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _read_status(now: datetime) -> tuple[dict[str, Any] | None, Verdict]:
    """The parsed status document and the verdict on it; (None, fail) when it is unreadable."""
    try:
        doc = StatusFile(current_app.config["STATUS_FILE"]).read()
    except StatusError as exc:
        verdict = Verdict()
        verdict.fail(str(exc))
        return None, verdict
    return doc, assess(doc, now, current_app.config["STALL_AFTER_S"])


def _list_persons(doc: dict[str, Any] | None) -> tuple[list[Path], Verdict]:
    """The person folders and the persons folder's verdict (one rule for every endpoint)."""
    persons_dir = Path(current_app.config["PERSONS_DIR"])
    try:
        return list_person_folders(persons_dir, missing_ok=False), Verdict()
    except OSError as exc:
        return [], assess_persons(persons_dir, exc, doc)


def _verdict_fields(verdict: Verdict) -> dict[str, Any]:
    return {"status": verdict.status, "output": verdict.output()}


def _int_arg(name: str, default: int, low: int, high: int | None) -> int:
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


def _json(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _http_error(exc: HTTPException) -> Response:
    response = _json({"status": "fail", "error": exc.name, "output": exc.description}, exc.code or 500)
    if exc.code == 405:
        response.headers["Allow"] = "GET, HEAD"
    return response


def _unexpected_error(exc: Exception) -> Response:
    # a bug or an unforeseen file state: log the detail, answer 503 so probes retry, stay up
    log.exception("request %s failed", request.path)
    return _json(
        {
            "status": "fail",
            "error": "Service Unavailable",
            "output": f"the monitor could not answer: {type(exc).__name__}",
        },
        503,
    )


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
