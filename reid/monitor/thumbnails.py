"""Which crop of a person folder the dashboard shows: the sharpest of those that show the whole person.

``track.json`` marks crops cut by the frame's edge (``at_edge``) and crops of a person seen small
(``low_resolution``); those are left out unless the folder has nothing else. Among the rest, the
sharpest wins: the variance of the Laplacian of the crop, scaled to one height so that a large crop
does not win on size alone. Decoding every crop at every poll would be slow, so the choice is
computed once per folder and kept until the folder changes (its modification time: adding, removing
or renaming a crop, or rewriting ``track.json``, changes it). OpenCV is imported on the first choice
only, so the monitor starts without it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from ..core.persons import list_images
from ..core.track_metadata import crops_of, read_track_metadata

log = logging.getLogger(__name__)

MARKS = ("at_edge", "low_resolution")  # track.json's marks of crops that do not show the whole person
SCORED_HEIGHT = 128  # crops are compared at one height
MAX_SCORED = 40  # crops scored per folder at most, spread over the track
MAX_BYTES = 8 << 20  # a larger file is no thumbnail (and not worth decoding)


def marked_crops(folder: Path) -> set[str]:
    """Names of the crops ``track.json`` marks as cut off or small."""
    return {c["file"] for c in crops_of(read_track_metadata(folder)) if any(c.get(m) for m in MARKS)}


def sharpness(path: Path) -> float | None:
    """Variance of the Laplacian of the crop in grey, at ``SCORED_HEIGHT`` pixels high; None when it
    cannot be read as an image."""
    import cv2
    import numpy as np

    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None or min(image.shape) < 2:
        return None
    height, width = image.shape
    scaled = cv2.resize(
        image, (max(1, round(width * SCORED_HEIGHT / height)), SCORED_HEIGHT), interpolation=cv2.INTER_AREA
    )
    return float(cv2.Laplacian(scaled, cv2.CV_64F).var())


def spread(items: list[Any], count: int) -> list[Any]:
    """At most ``count`` items, evenly spread over the list.

    >>> spread(list(range(10)), 3)
    [0, 4, 9]
    """
    if len(items) <= count:
        return items
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def choose_crop(folder: Path) -> str | None:
    """The name of the folder's best crop: the sharpest unmarked one (the sharpest of all if every
    crop is marked, the middle one if none can be decoded); None when it has no image."""
    images = list_images(folder)
    if not images:
        return None
    marked = marked_crops(folder)
    candidates = [p for p in images if p.name not in marked] or images
    scored = [(score, p.name) for p in spread(candidates, MAX_SCORED) if (score := sharpness(p)) is not None]
    if not scored:
        return candidates[len(candidates) // 2].name
    return max(scored, key=lambda item: (item[0], item[1]))[1]


class ThumbnailChooser:
    """``choose_crop`` remembered per folder until the folder's modification time changes."""

    def __init__(self) -> None:
        self._chosen: dict[str, tuple[int, str | None]] = {}
        self._lock = threading.Lock()

    def choose(self, persons_dir: Path, name: str) -> str | None:
        folder = Path(persons_dir) / name
        try:
            mtime = os.stat(folder, follow_symlinks=False).st_mtime_ns
        except OSError:
            return None
        with self._lock:
            known = self._chosen.get(name)
        if known is not None and known[0] == mtime:
            return known[1]
        try:
            chosen = choose_crop(folder)
        except OSError as exc:  # the folder went away while it was read (merged)
            log.debug("no thumbnail for %s: %s", folder, exc)
            return None
        with self._lock:
            self._chosen[name] = (mtime, chosen)
        return chosen

    def forget_all_but(self, names: set[str]) -> None:
        """Drop folders that are gone (merged away), so the memory stays that of the folders there are."""
        with self._lock:
            for name in set(self._chosen) - names:
                del self._chosen[name]
