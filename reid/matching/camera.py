"""Per-camera normalisation of crop embeddings.

Every crop of one camera shares its background, light and angle, and an embedding carries some
of that: two different people seen by one camera look more alike than they are. Subtracting the
camera's mean crop embedding (then normalising again) removes what all its crops share. On the
labelled crops of two cameras it doubled the recall reachable at precision 0.99 for the
re-ID-trained models (see BENCHMARKS.md).

The mean must describe the camera, not a person: with one or two people it is mostly theirs,
and subtracting it pushes one person's own crops apart. So it is applied only when every camera
(every video) has at least ``MIN_FOLDERS`` folders; otherwise no camera is normalised, and the
threshold for raw embeddings applies. A camera is a folder's first track's video; folders
without metadata form one camera of their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.paths import shown_path
from .embedding import set_vectors
from .folders import Folder
from .grouping import normalize_rows

# Folders a camera needs for its mean to describe the camera rather than the people in it.
MIN_FOLDERS = 10


@dataclass(frozen=True)
class Normalisation:
    applied: bool
    reason: str  # said in the plan and the status

    def describe(self) -> str:
        return ("per-camera normalisation: " if self.applied else "no per-camera normalisation: ") + self.reason


def by_camera(folders: Sequence[Folder]) -> dict[str, list[Folder]]:
    cameras: dict[str, list[Folder]] = defaultdict(list)
    for folder in folders:
        if folder.vectors is not None:
            cameras[folder.camera].append(folder)
    return dict(cameras)


def decide(folders: Sequence[Folder], min_folders: int = MIN_FOLDERS) -> Normalisation:
    """Whether every camera has enough folders for its mean to be a camera's, and why (not)."""
    cameras = by_camera(folders)
    if not cameras:
        return Normalisation(False, "no folder has a readable crop")
    few = sorted((len(found), name) for name, found in cameras.items() if len(found) < min_folders)
    if few:
        count, name = few[0]
        where = f"video {shown_path(name)} has" if name else "the folders without track metadata are"
        folders = f"{count} person folder{'' if count == 1 else 's'}"
        return Normalisation(False, f"{where} {folders}, fewer than the {min_folders} needed")
    return Normalisation(
        True, f"{len(cameras)} video{'' if len(cameras) == 1 else 's'}, each with {min_folders}+ folders"
    )


def normalise_per_camera(folders: Sequence[Folder], min_folders: int = MIN_FOLDERS) -> Normalisation:
    """Subtract each camera's mean crop embedding from its folders' crops (when ``decide`` says so)."""
    verdict = decide(folders, min_folders)
    if verdict.applied:
        for found in by_camera(folders).values():
            mean = np.concatenate([f.vectors for f in found]).astype(np.float64).mean(axis=0)
            for folder in found:
                set_vectors(folder, normalize_rows(folder.vectors.astype(np.float64) - mean).astype(np.float32))
    return verdict
