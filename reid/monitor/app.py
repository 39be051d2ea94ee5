"""The health monitor's web app: Flask lives here and in the two blueprints it registers.

``create_app`` builds the app (Flask tutorial style: no module-level app, config passed in):
the JSON endpoints (``endpoints.py``) and the pages for people (``pages.py``). All answers carry
``Cache-Control: no-store``, and errors are JSON that never exposes a traceback. The app is
read-only and takes no path from the client.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from ..core.config import DEFAULT_PERSONS, DEFAULT_STATUS, STALL_AFTER_S
from . import endpoints, pages
from .thumbnails import ThumbnailChooser

log = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The monitor app. Settings: STATUS_FILE, PERSONS_DIR (the persons folder it serves),
    STALL_AFTER_S (a running stage silent for longer is reported as stalled)."""
    app = Flask(__name__)
    app.config.from_mapping(
        STATUS_FILE=str(DEFAULT_STATUS), PERSONS_DIR=str(DEFAULT_PERSONS), STALL_AFTER_S=STALL_AFTER_S
    )
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False
    app.extensions["reid_thumbnails"] = ThumbnailChooser()
    app.register_blueprint(endpoints.bp)
    app.register_blueprint(pages.bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(_no_store)
    return app


def _http_error(exc: HTTPException) -> Response:
    response = endpoints.json_response(
        {"status": "fail", "error": exc.name, "output": exc.description}, exc.code or 500
    )
    if exc.code == 405:
        response.headers["Allow"] = "GET, HEAD"
    return response


def _unexpected_error(exc: Exception) -> Response:
    # a bug or an unforeseen file state: log the detail, answer 503 so probes retry, stay up
    log.exception("request %s failed", request.path)
    return endpoints.json_response(
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
