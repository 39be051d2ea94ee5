"""Per-camera normalisation: applied only when every camera has enough folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.matching.camera import decide, normalise_per_camera
from reid.matching.embedding import set_vectors
from reid.matching.folders import Folder
from reid.matching.grouping import normalize_rows


def folders_of(camera: str, count: int, bias: np.ndarray, rng: np.random.Generator) -> list[Folder]:
    found = []
    for n in range(count):
        folder = Folder(f"{camera}-{n}", Path("."), [Path(f"{n}-{k}.jpg") for k in range(4)], camera=camera)
        person = rng.normal(size=8)
        set_vectors(folder, normalize_rows(person + bias + 0.1 * rng.normal(size=(4, 8))).astype(np.float32))
        found.append(folder)
    return found


def test_subtracting_each_cameras_mean_makes_strangers_unlike_again():
    rng = np.random.default_rng(3)
    bias = 4.0 * np.ones(8)  # everything this camera sees looks alike
    folders = folders_of("hall.mp4", 12, bias, rng)
    before = float(folders[0].embedding @ folders[1].embedding)
    verdict = normalise_per_camera(folders, min_folders=10)
    after = float(folders[0].embedding @ folders[1].embedding)
    assert verdict.applied and before > 0.8 and after < 0.5
    assert np.allclose(np.linalg.norm(folders[0].vectors, axis=1), 1.0)


def test_a_camera_with_too_few_folders_leaves_every_camera_as_it_is():
    rng = np.random.default_rng(4)
    folders = folders_of("hall.mp4", 12, np.zeros(8), rng) + folders_of("door.mp4", 3, np.zeros(8), rng)
    before = [f.vectors.copy() for f in folders]
    verdict = normalise_per_camera(folders, min_folders=10)
    assert not verdict.applied and "video door.mp4 has 3 person folders" in verdict.reason
    assert all(np.array_equal(b, f.vectors) for b, f in zip(before, folders, strict=True))
    assert decide([], 10).reason == "no folder has a readable crop"


def test_the_reason_shows_a_video_under_the_working_folder_by_its_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    inside = str(tmp_path / "examples" / "sample.mp4")  # track.json records the video as tracking resolved it
    assert "video examples/sample.mp4 has 2 person folders" in decide(folders_of(inside, 2, np.zeros(8), rng)).reason
    outside = "/elsewhere/door.mp4"
    assert f"video {outside} has 2 person folders" in decide(folders_of(outside, 2, np.zeros(8), rng)).reason
