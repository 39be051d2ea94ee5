"""The merge stage with a network trained to tell people apart (Intel's person-reidentification-retail-0287),
end to end through deeplearningg_reID.py on real crops: fragments of one person are merged, a folder
that holds two people one after the other is split, nothing else is touched, and --undo restores all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import DATA_DIR, DATA_HINT, run_script, tree_hashes, unavailable

MODEL = (
    DATA_DIR
    / "weights"
    / "intel"
    / "person-reidentification-retail-0287"
    / "FP32"
    / "person-reidentification-retail-0287.xml"
)


@pytest.fixture(scope="module")
def reid_0287() -> Path:
    if not MODEL.exists():
        unavailable(f"{MODEL} is missing: {DATA_HINT}")
    return MODEL


def track_of(person_id: int, files: list[str], first: int, video: str = "/videos/hall.mp4") -> dict:
    return {
        "schema": 1,
        "person_id": person_id,
        "run_id": "run-1",
        "video": video,
        "fps": 10.0,
        "segments": [[first, first + 10 * len(files)]],
        "crops": [{"file": f, "frame": first + 10 * k} for k, f in enumerate(files)],
    }


def write_folder(persons: Path, name: str, person_id: int, crops: list[Path], first: int) -> None:
    """A person folder of ``crops`` (one every 10 frames from ``first``) with its track.json."""
    (persons / name).mkdir(parents=True)
    files = []
    for k, crop in enumerate(crops):
        files.append(f"hall_f{first + 10 * k:06d}.png")
        shutil.copy2(crop, persons / name / files[-1])
    (persons / name / "track.json").write_text(json.dumps(track_of(person_id, files, first)))


@pytest.fixture
def workdir(tmp_path, labelled_crops):
    """id_1 and id_2: two fragments of person 022 (different views, one after the other); id_3 and
    id_4: persons 003 and 008; id_5: person 011's track handed over to person 019 at its 5th crop."""
    persons = tmp_path / "persons"

    def folder(name: str, person_id: int, crops: list[Path], first: int) -> None:
        write_folder(persons, name, person_id, crops, first)

    def views(pid: str) -> list[Path]:
        return sorted((labelled_crops / pid).glob("01_*.png"))

    folder("id_1", 1, views("022")[:4], 0)
    folder("id_2", 2, views("022")[4:], 400)
    folder("id_3", 3, views("003"), 0)
    folder("id_4", 4, views("008"), 800)
    folder("id_5", 5, views("011")[:4] + views("019")[:4], 1200)
    return tmp_path


def reid(workdir: Path, model: Path, *args: str):
    return run_script(
        "deeplearningg_reID.py", "--backbone", "reid-0287", "--weights", model, "--no-progress", *args, cwd=workdir
    )


@pytest.mark.slow
def test_fragments_of_one_person_are_merged_and_a_handed_over_track_is_split_then_undone(workdir, reid_0287):
    persons = workdir / "persons"
    before = {k: v for k, v in tree_hashes(persons).items()}
    plan = reid(workdir, reid_0287, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    split = "id_5 seems to change person once: it keeps its first 4 crops. From frame 1240, 4 crops become a new folder"
    assert split in plan.stdout
    assert "1. id_1 (4 crops)  <-  id_2 (4 crops)" in plan.stdout
    assert plan.stdout.count("<-") == 1  # nobody else is merged
    assert tree_hashes(persons) == before | {k: v for k, v in tree_hashes(persons).items() if k.startswith(".")}

    done = reid(workdir, reid_0287, "--yes")
    assert done.returncode == 0, done.stderr
    assert "Split 1 folder and merged 1 group: 5 -> 5 person folders" in done.stdout
    names = sorted(p.name for p in persons.glob("id_*"))
    assert names[:4] == ["id_1", "id_3", "id_4", "id_5"] and len(names) == 5  # id_2 merged, id_5's part anew
    new = persons / names[4]
    part = json.loads((new / "track.json").read_text())
    assert part["split_from"] == "id_5" and sorted(p.name for p in new.glob("*.png")) == [
        f"hall_f{1240 + 10 * k:06d}.png" for k in range(4)
    ]
    assert len(list((persons / "id_1").glob("*.png"))) == 8

    undone = run_script("deeplearningg_reID.py", "--undo", cwd=workdir)
    assert undone.returncode == 0, undone.stderr
    assert {k: v for k, v in tree_hashes(persons).items() if k.startswith("id_")} == {
        k: v for k, v in before.items() if k.startswith("id_")
    }


def walk(x: float, step: float, count: int) -> list[list[float]]:
    """Boxes 160 px tall (one body height) of someone walking ``step`` px per crop from ``x``."""
    return [[x + step * k, 200.0, x + step * k + 60, 360.0] for k in range(count)]


def seen(person_id: int, first: int, last: int, first_box: list[float], last_box: list[float]) -> dict:
    return {
        "person_id": person_id,
        "segments": [[first, last]],
        "first_frame": first,
        "last_frame": last,
        "first_box": first_box,
        "last_box": last_box,
    }


@pytest.mark.slow
def test_a_split_part_is_not_a_continuation_of_where_the_other_person_was(tmp_path, labelled_crops, reid_0287):
    # id_5 (20 fps): person 011 comes in at the door on the left (x=20) and walks right (crops at frames
    # 1200-1230), then the tracker hands the id to person 019, seen from frame 1240 at the right edge
    # (x=680) walking left, last at x=600 (frame 1275). id_6 shows 019 too (other views: similar enough to
    # merge), leaving through the door at frame 1235. 0.25 s later, 019's part of id_5 is 4 body heights
    # from the door: whoever left is not who appears there, a veto. Given the whole track's first box,
    # that part would start at the door, "where id_6 ended", and be merged into it.
    persons = tmp_path / "persons"
    views = {pid: sorted((labelled_crops / pid).glob("01_*.png")) for pid in ("011", "019")}
    door = [20.0, 200.0, 80.0, 360.0]

    def folder(name: str, images: list[Path], frames: list[int], boxes: list[list[float]], track: dict) -> None:
        (persons / name).mkdir(parents=True)
        crops = []
        for image, frame, box in zip(images, frames, boxes, strict=True):
            crops.append({"file": f"hall_f{frame:06d}.png", "frame": frame, "box": box, "conf": 0.9})
            shutil.copy2(image, persons / name / crops[-1]["file"])
        metadata = {"schema": 1, "run_id": "run-1", "video": "/videos/hall.mp4", "fps": 20.0, **track, "crops": crops}
        (persons / name / "track.json").write_text(json.dumps(metadata))

    first, second, leaving = walk(20, 40, 4), walk(680, -20, 4), walk(200, -60, 4)
    handed_over = seen(5, 1200, 1275, door, [600.0, 200.0, 660.0, 360.0])
    folder("id_5", views["011"][:4] + views["019"][:4], list(range(1200, 1280, 10)), first + second, handed_over)
    folder("id_6", views["019"][4:], [1205, 1215, 1225, 1235], leaving, seen(6, 1205, 1235, leaving[0], door))
    assert leaving[-1] == door

    report = tmp_path / "review.html"
    plan = reid(tmp_path, reid_0287, "--dry-run", "--report", str(report))
    assert plan.returncode == 0, plan.stderr
    split = "id_5 seems to change person once: it keeps its first 4 crops. From frame 1240, 4 crops become a new folder"
    assert split in plan.stdout
    assert "continues" not in plan.stdout and "<-" not in plan.stdout, plan.stdout
    assert "too far from where the other was" in report.read_text()  # kept apart by the veto

    done = reid(tmp_path, reid_0287, "--yes")
    assert done.returncode == 0, done.stderr
    (new,) = set(persons.glob("id_*")) - {persons / "id_5", persons / "id_6"}
    assert len(list((persons / "id_6").glob("*.png"))) == 4  # nothing merged into it
    (kept,), (part,) = (json.loads((persons / n / "track.json").read_text())["tracks"] for n in ("id_5", new.name))
    assert (kept["first_box"], kept["last_box"]) == (first[0], first[-1])
    assert (part["first_box"], part["last_box"]) == (second[0], second[-1])
    assert (kept["first_frame"], kept["last_frame"], part["first_frame"], part["last_frame"]) == (
        1200,
        1230,
        1240,
        1270,
    )
    assert (kept["first_time_s"], kept["last_time_s"], part["first_time_s"], part["last_time_s"]) == (
        60,
        61.5,
        62,
        63.5,
    )
