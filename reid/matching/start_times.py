"""``--start-times VIDEO=TIME``: when each video started, so that folders of different cameras can be
put on one clock (``cross_camera.py``).

TIME is an ISO 8601 date-time (``2026-03-01T10:00:00``, with or without a time zone) or a number of
seconds from any common origin (``0``, ``12.5``); one run's times must all be of one kind, since a
date-time and an offset cannot be compared. VIDEO is a video's file name as ``track.json`` gives it,
or its whole path where two videos share a name. Pure functions: the script turns their
``ValueError`` into a one-line error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import PurePath


def parse_time(text: str) -> float | datetime:
    """Seconds (a finite number) or a date-time; ``ValueError`` naming the text otherwise.

    >>> parse_time("12.5"), parse_time("2026-03-01T10:00:00")
    (12.5, datetime.datetime(2026, 3, 1, 10, 0))
    >>> parse_time("noon")
    Traceback (most recent call last):
    ValueError: time 'noon' is neither seconds (0, 12.5) nor an ISO 8601 date-time (2026-03-01T10:00:00)
    """
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"time {text!r} is neither seconds (0, 12.5) nor an ISO 8601 date-time (2026-03-01T10:00:00)"
        ) from None


def parse_start_times(values: Iterable[str]) -> dict[str, float]:
    """``VIDEO=TIME`` items (each value may hold several, separated by commas) as seconds on one clock:
    offsets as given, date-times as seconds after the earliest of them.

    >>> parse_start_times(["c0.mp4=0,c1.mp4=2.5"])
    {'c0.mp4': 0.0, 'c1.mp4': 2.5}
    >>> parse_start_times(["a.mp4=2026-03-01T10:00:00", "b.mp4=2026-03-01T10:01:30"])
    {'a.mp4': 0.0, 'b.mp4': 90.0}
    >>> parse_start_times(["a.mp4=0", "b.mp4=2026-03-01T10:00:00"])
    Traceback (most recent call last):
    ValueError: give every start time as a date-time or every one as seconds, not both
    """
    times: dict[str, float | datetime] = {}
    for value in values:
        for item in value.split(","):
            video, sep, text = item.partition("=")
            video, text = video.strip(), text.strip()
            if not sep or not video or not text:
                raise ValueError(f"{item.strip()!r} must look like VIDEO=TIME (c1.mp4=2026-03-01T10:00:00 or c1.mp4=0)")
            if video in times:
                raise ValueError(f"{video} is given twice")
            times[video] = parse_time(text)
    return _on_one_clock(times)


def _on_one_clock(times: dict[str, float | datetime]) -> dict[str, float]:
    dates = [t for t in times.values() if isinstance(t, datetime)]
    if not dates:
        return {video: float(t) for video, t in times.items()}
    if len(dates) != len(times):
        raise ValueError("give every start time as a date-time or every one as seconds, not both")
    if len({t.tzinfo is None for t in dates}) > 1:
        raise ValueError("give every start date-time with a time zone (2026-03-01T10:00:00+01:00) or none without")
    origin = min(dates)
    return {video: (t - origin).total_seconds() for video, t in times.items()}


def match_videos(start_times: dict[str, float], videos: Sequence[str]) -> dict[str, float]:
    """The start time of each of ``videos`` (paths as the folders' tracks give them) that ``start_times``
    names, by file name or by whole path; ``ValueError`` for a name no video has (listing those there
    are) or one that two videos share.

    >>> match_videos({"c1.mp4": 2.0}, ["/v/c0.mp4", "/v/c1.mp4"])
    {'/v/c1.mp4': 2.0}
    >>> match_videos({"c2.mp4": 0.0}, ["/v/c0.mp4", "/v/c1.mp4"])
    Traceback (most recent call last):
    ValueError: --start-times names c2.mp4, which no person folder comes from; their videos: c0.mp4, c1.mp4
    """
    found: dict[str, float] = {}
    for name, start in start_times.items():
        matches = sorted({v for v in videos if name in (v, PurePath(v).name)})
        if not matches:
            known = ", ".join(sorted({PurePath(v).name for v in videos})) or "none (no folder has track.json)"
            raise ValueError(f"--start-times names {name}, which no person folder comes from; their videos: {known}")
        if len(matches) > 1:
            raise ValueError(
                f"--start-times names {name}, the name of {len(matches)} videos: give its path, one of "
                f"{', '.join(matches)}"
            )
        found[matches[0]] = start
    return found
