"""Person folders as the matching stage sees them: their crops, their tracks, their embedding."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.persons import list_images, list_person_folders, parse_person_id, read_track_metadata
from .grouping import Appearance

log = logging.getLogger(__name__)


@dataclass
class Folder:
    name: str
    path: Path
    images: list[Path]
    appearances: list[Appearance] = field(default_factory=list)
    embedding: np.ndarray | None = None

    @property
    def sort_id(self) -> float:
        person_id = parse_person_id(self.name)
        return math.inf if person_id is None else person_id


def appearances_of(metadata: dict[str, Any] | None) -> list[Appearance]:
    """The tracks recorded in a folder's ``track.json``: one for a tracked folder, several once merged."""
    if not metadata:
        return []
    tracks = metadata.get("tracks") if isinstance(metadata.get("tracks"), list) else [metadata]
    found = []
    for track in tracks:
        try:
            segments = tuple((int(a), int(b)) for a, b in track["segments"])
            run_id, video = str(track["run_id"]), str(track["video"])
        except (KeyError, TypeError, ValueError):
            continue  # legacy or foreign metadata: no constraint from this track
        if segments:
            found.append(Appearance(run_id, video, tuple(sorted(segments))))
    return found


def scan_folders(persons_dir: Path) -> list[Folder]:
    """Every person folder with its images and tracks. ``InputError`` if the folder is missing."""
    persons_dir = Path(persons_dir)
    if not persons_dir.is_dir():
        raise InputError(f"persons folder {persons_dir} does not exist: run obj_counting.py first")
    folders = []
    for path in list_person_folders(persons_dir):
        try:
            images = list_images(path)
        except OSError as exc:
            log.warning("skipping %s: %s", path, exc.strerror or exc)
            continue
        folders.append(Folder(path.name, path, images, appearances_of(read_track_metadata(path))))
    return folders
