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


@pytest.fixture
def workdir(tmp_path, labelled_crops):
    """id_1 and id_2: two fragments of person 022 (different views, one after the other); id_3 and
    id_4: persons 003 and 008; id_5: person 011's track handed over to person 019 at its 5th crop."""
    persons = tmp_path / "persons"

    def folder(name: str, person_id: int, crops: list[Path], first: int) -> None:
        (persons / name).mkdir(parents=True)
        files = []
        for k, crop in enumerate(crops):
            files.append(f"hall_f{first + 10 * k:06d}.png")
            shutil.copy2(crop, persons / name / files[-1])
        (persons / name / "track.json").write_text(json.dumps(track_of(person_id, files, first)))

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
    assert "id_5 holds 2 people: it keeps its first 4 crops; 4 crops from frame 1240 become a new folder" in plan.stdout
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
