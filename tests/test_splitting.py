"""Folders that hold two people one after the other are split; others are left alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.matching.embedding import set_vectors
from reid.matching.folders import Folder
from reid.matching.grouping import Appearance, normalize_rows
from reid.matching.splitting import apply_splits, describe, find_splits, part_files

rng = np.random.default_rng(7)
ALICE, BOB = rng.normal(size=16), rng.normal(size=16)


def folder(people: list[np.ndarray], name: str = "id_5") -> Folder:
    """A one-track folder whose crop k (frame 10 k) shows ``people[k]``."""
    images = [Path(f"/p/{name}/v_f{10 * k:06d}.jpg") for k in range(len(people))]
    result = Folder(
        name,
        Path(f"/p/{name}"),
        images,
        [Appearance("r", "v.mp4", ((0, 10 * len(people)),))],
        frames={p.name: 10 * k for k, p in enumerate(images)},
    )
    set_vectors(result, normalize_rows(np.stack([p + 0.15 * rng.normal(size=16) for p in people])))
    return result


def test_a_track_handed_from_one_person_to_another_is_split_at_the_switch():
    mixed = folder([ALICE] * 5 + [BOB] * 4)
    (split,) = find_splits([mixed, folder([ALICE] * 6, "id_6")], threshold=0.5)
    assert split.folder is mixed and [len(p.images) for p in split.parts] == [5, 4]
    assert split.switch_frames == [50] and split.similarity < 0.5
    kept, new = split.parts
    assert kept.name == "id_5" and new.name == "id_5~2" and part_files(new)[0] == "v_f000050.jpg"
    assert new.appearances[0].segments == ((50, 80),) and kept.appearances[0].segments == ((0, 40),)
    assert [f.name for f in apply_splits([mixed], [split])] == ["id_5", "id_5~2"]
    assert describe(split).startswith("id_5 holds 2 people: it keeps its first 5 crops; 4 crops from frame 50")


def test_no_split_for_one_person_interleaved_looks_or_too_few_crops():
    assert find_splits([folder([ALICE] * 9)], threshold=0.5) == []
    assert find_splits([folder([ALICE, BOB] * 4)], threshold=0.5) == []  # not separated in time
    assert find_splits([folder([ALICE] * 5 + [BOB] * 2)], threshold=0.5) == []  # 2 crops: too little evidence


def test_merged_folders_and_crops_without_frames_are_not_split():
    merged = folder([ALICE] * 5 + [BOB] * 4)
    merged.appearances = merged.appearances * 2  # two tracks: frames of different videos do not compare
    unknown = folder([ALICE] * 5 + [BOB] * 4)
    unknown.frames = {}
    assert find_splits([merged, unknown], threshold=0.5) == []
