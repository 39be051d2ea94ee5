"""Paths as the user sees them: relative to the working folder when they are under it, else absolute.

A status section records the persons folder it describes as a resolved absolute path (two scripts
started in different folders still name it the same way); messages and the dashboard show it
relative to the working folder, as the user typed it, whenever it is under that folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def absolute(path: str | Path) -> Path:
    """``path`` made absolute and resolved (links and ``..`` followed), whether or not it exists."""
    return Path(path).expanduser().resolve()


def shown_path(path: str | Path, base: str | Path | None = None) -> str:
    """``path`` relative to ``base`` (default: the working folder) when it is under it, else absolute.
    Anything that is not an absolute path (a relative one, a stream URL) is returned as it is.

    >>> shown_path("/work/run/persons", base="/work/run"), shown_path("/elsewhere/persons", base="/work/run")
    ('persons', '/elsewhere/persons')
    >>> shown_path("rtsp://camera/live"), shown_path("videos/a.mp4")
    ('rtsp://camera/live', 'videos/a.mp4')
    """
    text = str(path)
    if not os.path.isabs(text):
        return text
    try:
        here = absolute(base if base is not None else Path.cwd())
        inside = absolute(text).relative_to(here)
    except (OSError, ValueError):  # not under it, or the working folder is gone
        return text
    return str(inside) if str(inside) != "." else "."
