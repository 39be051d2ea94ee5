"""Person folders as the matching stage sees them: their crops, their tracks, their embedding."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.persons import list_images, list_person_folders, parse_person_id
from ..core.persons_dir import require_persons_dir
from ..core.track_metadata import (
    as_box,
    crop_boxes,
    crop_frames,
    is_unfinished,
    positive_number,
    read_track_metadata,
    tracks_of,
)
from .grouping import Appearance

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels


@dataclass
class Folder:
    """A person folder: its crops, its tracks and, once embedded, its crops' unit vectors
    (``vectors``, one row per readable crop) and their mean (``embedding``, not normalised: the
    dot product of two folders' means is the mean similarity over all their pairs of crops,
    which does not drift with the number of crops)."""

    name: str
    path: Path
    images: list[Path]
    appearances: list[Appearance] = field(default_factory=list)
    embedding: np.ndarray | None = None
    vectors: np.ndarray | None = None
    camera: str = ""  # the video its first track comes from: crops of one camera share a bias
    frames: dict[str, int] = field(default_factory=dict)  # crop file name -> its frame, from track.json
    boxes: dict[str, Box] = field(default_factory=dict)  # crop file name -> its box, where track.json has it
    unfinished: bool = False  # its tracking run was killed before finishing it (track.json says so)

    @property
    def sort_id(self) -> float:
        person_id = parse_person_id(self.name)
        return math.inf if person_id is None else person_id


def appearances_of(metadata: dict[str, Any] | None) -> list[Appearance]:
    """The tracks recorded in a folder's ``track.json``: one for a tracked folder, several once merged."""
    found = []
    for track in tracks_of(metadata):
        try:
            segments = tuple((int(a), int(b)) for a, b in track["segments"])
            run_id, video = str(track["run_id"]), str(track["video"])
        except (KeyError, TypeError, ValueError):
            continue  # legacy or foreign metadata: no constraint from this track
        if segments:
            found.append(
                Appearance(
                    run_id,
                    video,
                    tuple(sorted(segments)),
                    as_box(track.get("first_box")),
                    as_box(track.get("last_box")),
                    positive_number(track.get("fps")),
                )
            )
    return found


def scan_folders(persons_dir: Path) -> list[Folder]:
    """Every person folder with its images and tracks. ``InputError`` if the folder is missing or a file."""
    persons_dir = Path(persons_dir)
    require_persons_dir(persons_dir)
    folders = []
    for path in list_person_folders(persons_dir):
        try:
            images = list_images(path)
        except OSError as exc:
            log.warning("skipping %s: %s", path, exc.strerror or exc)
            continue
        metadata = read_track_metadata(path)
        appearances = appearances_of(metadata)
        camera = appearances[0].video if appearances else ""
        folders.append(
            Folder(
                path.name,
                path,
                images,
                appearances,
                camera=camera,
                frames=crop_frames(metadata),
                boxes=crop_boxes(metadata),
                unfinished=is_unfinished(metadata),
            )
        )
    return folders
