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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request, send_file
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from werkzeug.exceptions import HTTPException

from . import __version__
from .config import DEFAULT_PERSONS, DEFAULT_STATUS
from .errors import StatusError
from .health import Verdict, age_seconds, assess, error_log, last_update, number, stage_progress
from .persons import folder_summary, list_images, list_person_folders
from .status import SECTIONS, STATES, StatusFile

log = logging.getLogger(__name__)

DEFAULT_STALL_AFTER_S = 120.0
DEFAULT_PAGE_LIMIT = 1000
MAX_PAGE_LIMIT = 10_000

bp = Blueprint("health", __name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The monitor app. Settings: STATUS_FILE, PERSONS_DIR, STALL_AFTER_S (a running stage
    silent for longer is reported as stalled)."""
    app = Flask(__name__)
    app.config.from_mapping(STATUS_FILE=str(DEFAULT_STATUS), PERSONS_DIR=str(DEFAULT_PERSONS),
                            STALL_AFTER_S=DEFAULT_STALL_AFTER_S, JSON_SORT_KEYS=False)
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(_no_store)
    return app


def _route(rule: str):
    # GET (and HEAD, which Flask adds); no automatic OPTIONS, so every other method is a 405
    return bp.route(rule, methods=["GET"], provide_automatic_options=False)


# -- endpoints ----------------------------------------------------------------------------

DASHBOARD_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; "
                 "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@_route("/")
def dashboard():
    """A page that polls the JSON endpoints: progress bars, counts, errors, person thumbnails."""
    page = (Path(__file__).parent / "static" / "dashboard.html").read_bytes()
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = DASHBOARD_CSP
    return response


@_route("/persons/<name>/thumbnail")
def thumbnail(name: str):
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
    return send_file(handle, mimetype=mimetypes.guess_type(crop.name)[0] or "application/octet-stream",
                     max_age=0, conditional=False, download_name=crop.name)


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
def health():
    """Basic health, the total person count and the age of the last status update."""
    now = _now()
    doc, verdict = _read_status(now)
    total = _count_persons(verdict)
    updated = last_update(doc) if doc else None
    body = {
        **_verdict_fields(verdict),
        "total_persons": total,
        "last_update": _iso(updated) if updated else None,
        "last_update_age_s": round((now - updated).total_seconds(), 3) if updated else None,
        "stages": {name: doc[name].get("state") for name in SECTIONS} if doc else None,
        "checked_at": _iso(now),
        "version": __version__,
    }
    return _json(body, verdict.http_status)


@_route("/health/processing")
def processing():
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
def reid_statistics():
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
def persons():
    """Every person folder with its image count and size, by id; ``?limit=&offset=`` pages."""
    limit = _int_arg("limit", DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT)
    offset = _int_arg("offset", 0, 0, None)
    persons_dir = Path(current_app.config["PERSONS_DIR"])
    verdict = Verdict()
    try:
        folders = list_person_folders(persons_dir, missing_ok=False)
    except FileNotFoundError as exc:
        verdict.fail(str(exc))
        folders = []
    except OSError as exc:
        verdict.fail(f"cannot read persons folder {persons_dir}: {exc.strerror or exc}")
        folders = []
    page = [folder_summary(f) for f in folders[offset:offset + limit]]
    for entry in page:
        entry["thumbnail"] = f"/persons/{entry['name']}/thumbnail" if entry["images"] else None
    body = {**_verdict_fields(verdict), "persons_dir": str(persons_dir), "total": len(folders), "offset": offset,
            "limit": limit, "count": len(page), "persons": page}
    return _json(body, verdict.http_status)


@_route("/metrics")
def metrics():
    """Prometheus text format: persons, images, progress, errors, age of the last update."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(Path(current_app.config["STATUS_FILE"]),
                                       Path(current_app.config["PERSONS_DIR"]),
                                       current_app.config["STALL_AFTER_S"]))
    # text format 0.0.4: our names are plain ASCII, and every Prometheus version parses it
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)


# -- helpers ------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(timezone.utc)


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


def _count_persons(verdict: Verdict) -> int:
    persons_dir = Path(current_app.config["PERSONS_DIR"])
    try:
        return len(list_person_folders(persons_dir, missing_ok=False))
    except FileNotFoundError:
        verdict.warn(f"persons folder {persons_dir} does not exist (yet)")
    except OSError as exc:
        verdict.fail(f"cannot read persons folder {persons_dir}: {exc.strerror or exc}")
    return 0


def _verdict_fields(verdict: Verdict) -> dict[str, Any]:
    return {"status": verdict.status, "output": verdict.output()}


def _int_arg(name: str, default: int, low: int, high: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise _BadRequest(f"query parameter {name} must be a whole number {bounds}, not {raw!r}")
    return value


class _BadRequest(HTTPException):
    code = 400


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
    return _json({"status": "fail", "error": "Service Unavailable",
                  "output": f"the monitor could not answer: {type(exc).__name__}"}, 503)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


class _StatusCollector:
    """Builds the metrics from the files at scrape time."""

    def __init__(self, status_file: Path, persons_dir: Path, stall_after_s: float):
        self.status_file = status_file
        self.persons_dir = persons_dir
        self.stall_after_s = stall_after_s

    def collect(self):
        now = _now()
        readable = GaugeMetricFamily("reid_status_readable", "1 when status.json could be read and parsed")
        healthy = GaugeMetricFamily("reid_healthy", "1 when /health answers 200")
        try:
            doc = StatusFile(self.status_file).read()
            verdict = assess(doc, now, self.stall_after_s)
        except StatusError:
            doc, verdict = None, Verdict(status="fail")
        readable.add_metric([], 1.0 if doc else 0.0)
        healthy.add_metric([], 0.0 if verdict.status == "fail" else 1.0)
        yield readable
        yield healthy

        folders = list_person_folders(self.persons_dir)
        summaries = [folder_summary(f) for f in folders]
        yield _gauge("reid_persons", "person folders in the persons folder", len(folders))
        yield _gauge("reid_person_images", "images in all person folders", sum(s["images"] for s in summaries))
        yield _gauge("reid_person_bytes", "bytes of images in all person folders", sum(s["bytes"] for s in summaries))
        if doc is None:
            return
        state = GaugeMetricFamily("reid_stage_state", "1 for the current state of each stage", labels=["stage", "state"])
        progress = GaugeMetricFamily("reid_stage_progress_ratio", "done / total of each stage", labels=["stage"])
        errors = GaugeMetricFamily("reid_stage_errors", "entries in each stage's error log", labels=["stage"])
        age = GaugeMetricFamily("reid_stage_update_age_seconds", "seconds since each stage last wrote its status",
                                labels=["stage"])
        for name in SECTIONS:
            section = doc[name]
            for candidate in STATES:
                state.add_metric([name, candidate], 1.0 if section.get("state") == candidate else 0.0)
            errors.add_metric([name], float(len(error_log(section))))
            section_age = age_seconds(section, now)
            if section_age is not None:
                age.add_metric([name], section_age)
        for name in ("counting", "processing"):
            view = stage_progress(name, doc[name], now, self.stall_after_s)
            if view["percent"] is not None:
                progress.add_metric([name], view["percent"] / 100.0)
        persons_counted = number(doc["counting"].get("persons"))
        yield state
        yield progress
        yield errors
        yield age
        if persons_counted is not None:
            yield _gauge("reid_tracking_persons", "persons found by the last tracking run", persons_counted)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], float(value))
    return gauge
