"""What the monitor serves for people rather than programs: the dashboard page and each person
folder's thumbnail.

A thumbnail is asked for by folder name only; the folder must be one the listing shows, the crop is
chosen here (``thumbnails.py``) and opened without following a link, so no request can reach
outside the persons folder.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from pathlib import Path
from typing import BinaryIO

from flask import Blueprint, Response, abort, current_app, send_file

from ..core.persons import list_person_folders
from .endpoints import route
from .thumbnails import ThumbnailChooser

bp = Blueprint("pages", __name__)

DASHBOARD_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@route(bp, "/")
def dashboard() -> Response:
    """A page that polls the JSON endpoints: progress bars, counts, errors, person thumbnails."""
    page = (Path(__file__).parent / "static" / "dashboard.html").read_bytes()
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = DASHBOARD_CSP
    return response


@route(bp, "/persons/<name>/thumbnail")
def thumbnail(name: str) -> Response:
    """The best crop of a person folder: the sharpest that shows the whole person."""
    persons_dir = Path(current_app.config["PERSONS_DIR"])
    chooser: ThumbnailChooser = current_app.extensions["reid_thumbnails"]
    try:
        names = {f.name for f in list_person_folders(persons_dir, missing_ok=False)}
    except OSError:
        names = set()
    chooser.forget_all_but(names)
    crop = chooser.choose(persons_dir, name) if name in names else None
    if crop is None:
        abort(404, description=f"no person folder {name!r} with a crop")
    handle = open_inside(persons_dir, name, crop)
    if handle is None:
        abort(404, description=f"the crop of {name!r} just went away (merged?)")
    return send_file(
        handle,
        mimetype=mimetypes.guess_type(crop)[0] or "application/octet-stream",
        max_age=0,
        conditional=False,
        download_name=crop,
    )


def open_inside(persons_dir: Path, folder: str, file: str) -> BinaryIO | None:
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
