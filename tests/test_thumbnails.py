"""The dashboard's thumbnail of a person folder: the sharpest crop that shows the whole person, chosen
once per folder and chosen again when the folder changes."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from reid.monitor import thumbnails
from reid.monitor.app import create_app
from reid.monitor.thumbnails import ThumbnailChooser, choose_crop


def person(sharp: bool, seed: int, size: tuple[int, int] = (160, 64)) -> np.ndarray:
    """A crop with fine detail, or the same kind of crop blurred."""
    image = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    return image if sharp else cv2.GaussianBlur(image, (0, 0), 4)


@pytest.fixture
def folder(tmp_path):
    """id_1: a sharp crop cut by the frame's edge, a small sharp one, two blurred ones and one sharp whole one."""
    persons = tmp_path / "persons"
    path = persons / "id_1"
    path.mkdir(parents=True)
    crops = {
        "f0001.jpg": (person(True, 1, (200, 80)), {"at_edge": True}),
        "f0002.jpg": (person(True, 2, (60, 24)), {"low_resolution": True}),
        "f0003.jpg": (person(False, 3), {}),
        "f0004.jpg": (person(True, 4), {}),
        "f0005.jpg": (person(False, 5), {}),
    }
    for name, (image, _) in crops.items():
        cv2.imwrite(str(path / name), image)
    metadata = {"crops": [{"file": name, "frame": n, **marks} for n, (name, (_, marks)) in enumerate(crops.items())]}
    (path / "track.json").write_text(json.dumps(metadata))
    return path


def test_the_sharpest_whole_crop_is_chosen(folder):
    assert choose_crop(folder) == "f0004.jpg"  # not the middle (f0003, blurred), not the one at the edge


def test_with_every_crop_marked_the_sharpest_of_them(folder):
    metadata = json.loads((folder / "track.json").read_text())
    for crop in metadata["crops"]:
        crop["at_edge"] = True
    (folder / "track.json").write_text(json.dumps(metadata))
    assert choose_crop(folder) in ("f0001.jpg", "f0002.jpg", "f0004.jpg")
    assert choose_crop(folder) not in ("f0003.jpg", "f0005.jpg")


def test_without_track_json_or_readable_images(folder):
    (folder / "track.json").unlink()
    assert choose_crop(folder) in ("f0001.jpg", "f0002.jpg", "f0004.jpg")
    for crop in folder.glob("*.jpg"):
        crop.write_bytes(b"not an image")
    assert choose_crop(folder) == "f0003.jpg"  # nothing decodes: the middle one, as before


def test_the_choice_is_computed_once_until_the_folder_changes(folder, monkeypatch):
    scored = []
    real = thumbnails.sharpness
    monkeypatch.setattr(thumbnails, "sharpness", lambda path: scored.append(path.name) or real(path))
    chooser = ThumbnailChooser()
    assert chooser.choose(folder.parent, "id_1") == "f0004.jpg"
    first = len(scored)
    assert chooser.choose(folder.parent, "id_1") == "f0004.jpg"
    assert len(scored) == first  # remembered
    cv2.imwrite(str(folder / "f0006.jpg"), person(True, 6, (240, 96)))
    os.utime(folder, ns=(1, os.stat(folder).st_mtime_ns + 1))  # coarse clocks: make the change visible
    chooser.choose(folder.parent, "id_1")
    assert len(scored) > first and "f0006.jpg" in scored[first:]


def test_the_endpoint_serves_the_chosen_crop(folder):
    app = create_app({"STATUS_FILE": str(folder.parent.parent / "status.json"), "PERSONS_DIR": str(folder.parent)})
    answer = app.test_client().get("/persons/id_1/thumbnail")
    assert answer.status_code == 200 and answer.data == (folder / "f0004.jpg").read_bytes()
