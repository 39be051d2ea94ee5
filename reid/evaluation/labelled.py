"""Identity-labelled crops, cut into person folders the way tracking fragments people.

A labelled folder holds one folder per identity; a crop's file name may start with its camera,
``<cam>_...`` (``-`` when it does not). Each identity's crops of one camera are cut into folders
of a fixed number of crops, or at random places (``"mixed"``), as tracks of various lengths are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.config import IMAGE_SUFFIXES
from ..core.errors import InputError

_CAMERA = re.compile(r"^([^_]+)_")

# identity -> camera -> its crops, in file-name order
Labelled = dict[str, dict[str, list[Path]]]


@dataclass(frozen=True)
class Fragment:
    identity: str
    camera: str
    images: tuple[Path, ...]


def read_labelled(labelled: Path) -> Labelled:
    """Each identity's crops by camera (the file-name prefix before ``_``; ``-`` when there is none)."""
    labelled = Path(labelled)
    if not labelled.is_dir():
        raise InputError(f"{labelled} is not a folder of identity folders")
    found: Labelled = {}
    for identity in sorted(p for p in labelled.iterdir() if p.is_dir() and not p.name.startswith(".")):
        by_camera: dict[str, list[Path]] = {}
        for image in sorted(identity.iterdir()):
            if image.suffix.lower() in IMAGE_SUFFIXES:
                match = _CAMERA.match(image.name)
                by_camera.setdefault(match.group(1) if match else "-", []).append(image)
        if by_camera:
            found[identity.name] = dict(sorted(by_camera.items()))
    if len(found) < 2:
        raise InputError(f"{labelled} needs at least two identity folders with images")
    return found


def cut(labelled: Labelled, size: int | str, identities: Sequence[str] | None = None, seed: int = 0) -> list[Fragment]:
    """The crops of ``identities`` (default: all) cut into folders of ``size`` crops per camera; ``size``
    ``"mixed"`` cuts each camera's crops at random places (seeded) into folders of 1 crop up to all of them."""
    rng = np.random.default_rng(seed)
    fragments = []
    for identity in labelled if identities is None else identities:
        for camera, images in labelled[identity].items():
            for start, stop in _pieces(len(images), size, rng):
                fragments.append(Fragment(identity, camera, tuple(images[start:stop])))
    return fragments


def _pieces(count: int, size: int | str, rng: np.random.Generator) -> list[tuple[int, int]]:
    if size == "mixed":
        cuts = sorted(rng.choice(np.arange(1, count), size=rng.integers(0, count), replace=False).tolist())
        bounds = [0, *cuts, count]
        return list(zip(bounds[:-1], bounds[1:], strict=True))
    return [(start, min(start + int(size), count)) for start in range(0, count, int(size))]


def fragment(labelled: Path, size: int) -> list[Fragment]:
    """Cut each identity's crops into folders of ``size`` crops, separately per camera."""
    return cut(read_labelled(labelled), size)
