"""Two synchronised cameras that see one ground: folders in one place at once are one person, folders
far apart at once are two (``ground_plane.py``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reid.matching.camera import Normalisation
from reid.matching.decision import decide_at
from reid.matching.embedding import set_vectors
from reid.matching.folders import Folder
from reid.matching.ground_plane import ground_evidence, learn_mapping
from reid.matching.grouping import Appearance

FPS = 25.0
# camera b sees the ground of camera a from elsewhere: a homography of the image plane
GROUND = np.array([[0.8, 0.1, 40.0], [-0.05, 0.9, 20.0], [0.0002, 0.0001, 1.0]])
STARTS = {"/v/a.mp4": 0.0, "/v/b.mp4": 0.0}
DIM = 32
OFF = Normalisation(False, "off")


def walk(person: int, frames: np.ndarray) -> np.ndarray:
    """Where person ``person`` stands in camera a at ``frames``: each walks a way of their own."""
    t = frames / FPS
    heading = 1.3 * person + 0.8 * t  # people turn as they walk (straight lines fit too many mappings)
    x = 60.0 + 60.0 * person + 60.0 * np.cos(heading)  # about half a body height a second
    y = 120.0 + 25.0 * person + 60.0 * np.sin(heading)
    return np.stack([x, y], axis=1)


def in_b(points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2), GROUND).reshape(-1, 2)


def folder(name: str, video: str, feet: np.ndarray, frames: np.ndarray, vector: np.ndarray) -> Folder:
    """A one-track folder with a crop every 10 frames, its boxes 100 px tall standing on ``feet``."""
    images = [Path(f"/p/{name}/{Path(video).stem}_f{int(f):06d}.jpg") for f in frames]
    boxes = {p.name: (x - 20.0, y - 100.0, x + 20.0, y) for p, (x, y) in zip(images, feet, strict=True)}
    first, last = boxes[images[0].name], boxes[images[-1].name]
    track = Appearance("r", video, ((int(frames[0]), int(frames[-1])),), first, last, FPS)
    result = Folder(
        name,
        Path(f"/p/{name}"),
        images,
        [track],
        camera=video,
        frames={p.name: int(f) for p, f in zip(images, frames, strict=True)},
        boxes=boxes,
    )
    set_vectors(result, np.tile(vector, (len(images), 1)).astype(np.float32))
    return result


def unit(k: int) -> np.ndarray:
    return np.eye(DIM)[k]


def terrace(people: int = 6, frames: np.ndarray | None = None) -> list[Folder]:
    """Each person seen by both cameras for 8 s; a person's two folders look 0.45 alike (under the
    merge threshold 0.5 used below), two people's 0."""
    frames = np.arange(0, 201, 10) if frames is None else frames
    found = []
    for p in range(people):
        feet = walk(p, frames)
        found.append(folder(f"id_{p + 1}", "/v/a.mp4", feet, frames, unit(p)))
        seen_by_b = 0.45 * unit(p) + np.sqrt(1 - 0.45**2) * unit(16 + p)
        found.append(folder(f"id_{p + 11}", "/v/b.mp4", in_b(feet), frames, seen_by_b))
    return found


def test_the_ground_is_learned_from_the_tracks_and_places_each_person():
    folders = terrace()
    evidence = ground_evidence(folders, STARTS)
    mapping = evidence.mappings[("/v/a.mp4", "/v/b.mp4")]
    probe = walk(2, np.arange(0, 201, 7)).reshape(-1, 1, 2)
    assert (
        np.abs(cv2.perspectiveTransform(probe, mapping) - cv2.perspectiveTransform(probe, GROUND)).max() < 1.0
    )  # px: 1% of a body
    names = {(folders[i].name, folders[j].name) for i, j in evidence.same_place}
    assert names == {(f"id_{p}", f"id_{p + 10}") for p in range(1, 7)}
    apart = {(folders[i].name, folders[j].name) for i, j in evidence.apart}
    assert ("id_1", "id_14") in apart and not apart & names


def test_the_plan_merges_across_cameras_only_where_the_ground_says_so():
    folders = terrace()
    without = decide_at(folders, 0.5, OFF)
    assert without.proposals == []  # 0.45 alike: under the threshold
    with_times = decide_at(folders, 0.5, OFF, start_times=STARTS)
    groups = sorted(sorted(f.name for f in g.folders) for g in with_times.proposals)
    assert groups == [sorted([f"id_{p}", f"id_{p + 10}"]) for p in range(1, 7)]
    assert any(
        "two cameras saw them in one place at the same time" in line for line in with_times.proposals[0].evidence
    )
    (said,) = with_times.comparison.ground.said
    assert said.startswith("a.mp4 and b.mp4 see one ground: 6 pairs of folders stood in one place at the same time")
    assert said.endswith("(0 with a clock 1 s off)")
    # the clocks must agree: camera b started a minute later, so nobody was in view at once
    later = decide_at(folders, 0.5, OFF, start_times={"/v/a.mp4": 0.0, "/v/b.mp4": 60.0})
    assert later.proposals == [] and later.comparison.ground.mappings == {}


def test_clocks_that_disagree_give_no_ground():
    # 3 s off: the people walk on, so no mapping puts more of them in one place than on other clocks
    evidence = ground_evidence(terrace(), {"/v/a.mp4": 0.0, "/v/b.mp4": 3.0})
    assert evidence.mappings == {} and evidence.same_place == set() and evidence.apart == set()
    assert evidence.said[0].startswith("a.mp4 and b.mp4: no common ground found at these start times")


def test_a_folder_in_one_place_with_two_at_once_is_linked_to_neither():
    folders = terrace()
    frames = np.arange(0, 201, 10)
    twin = folder("id_21", "/v/b.mp4", in_b(walk(0, frames)) + 1.0, frames, unit(30))  # a second box on person 1
    evidence = ground_evidence([*folders, twin], STARTS)
    names = {(folders[i].name if i < len(folders) else "id_21", folders[j].name) for i, j in evidence.same_place}
    assert ("id_1", "id_11") not in names and ("id_2", "id_12") in names


def test_views_without_a_common_ground_say_nothing():
    rng = np.random.default_rng(3)
    folders = terrace()
    for f in folders[1::2]:  # camera b's boxes anywhere: its people do not stand where camera a's do
        f.boxes = {
            n: (x, y, x + 40.0, y + 100.0) for n, (x, y) in zip(f.boxes, rng.uniform(0, 300, (21, 2)), strict=True)
        }
    evidence = ground_evidence(folders, STARTS)
    assert evidence.mappings == {} and evidence.same_place == set() and evidence.apart == set()
    assert learn_mapping([]) is None


def test_the_plan_and_the_review_page_say_what_the_ground_gave():
    from reid.matching.decision import plan_lines
    from reid.matching.report import render

    decision = decide_at(terrace(), 0.5, OFF, start_times=STARTS)
    assert "Cameras: a.mp4 and b.mp4 see one ground: 6 pairs of folders" in "\n".join(plan_lines(decision, "reid-0287"))
    page = render(
        decision.proposals,
        [],
        threshold=0.5,
        backbone="reid-0287",
        persons_dir=Path("/p"),
        folders_total=12,
        cameras=decision.comparison.ground.said,
    )
    assert "Cameras: a.mp4 and b.mp4 see one ground: 6 pairs of folders" in page
    # without start times the plan has no such line
    assert not any(line.startswith("Cameras:") for line in plan_lines(decide_at(terrace(), 0.5, OFF), "reid-0287"))


def test_the_evaluation_refuses_start_times_it_cannot_read(capsys):
    import pytest

    from reid.evaluation.video import parse_args

    with pytest.raises(SystemExit) as stop:
        parse_args(["--video", "a.mp4", "--gt", "gt.txt", "--start-times", "a.mp4"])
    assert stop.value.code == 2
    assert "--start-times: 'a.mp4' must look like VIDEO=TIME" in capsys.readouterr().err
