"""Folders that hold two people one after the other are split; others are left alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from reid.matching.camera import Normalisation
from reid.matching.decision import decide_at
from reid.matching.embedding import set_vectors
from reid.matching.folders import Folder
from reid.matching.grouping import Appearance, normalize_rows
from reid.matching.motion import motion_evidence
from reid.matching.splitting import SplitRule, apply_splits, describe, find_splits, part_files

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
    assert [min(p.frames.values()) for p in split.parts[1:]] == [50] and split.similarity < 0.5
    kept, new = split.parts
    assert kept.name == "id_5" and new.name == "id_5~2" and part_files(new)[0] == "v_f000050.jpg"
    assert new.appearances[0].segments == ((50, 80),) and kept.appearances[0].segments == ((0, 40),)
    assert [f.name for f in apply_splits([mixed], [split])] == ["id_5", "id_5~2"]
    text = describe(split)
    assert text.startswith(
        "id_5 seems to change person once: it keeps its first 5 crops. From frame 50, 4 crops become a new folder: "
        f"the crops after look unlike those before (similarity {split.similarity:.2f}, under the merge threshold 0.50)"
    )
    assert text.endswith("though the tracker followed it from frame 40 to 50 without a break.")


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


def test_each_part_starts_and_ends_at_the_boxes_of_its_own_crops():
    # Alice walks right from x=0 (crops 0-4), then the track is handed to Bob, who walks left from
    # x=600 (crops 5-8). The track's own first box is Alice's, its last Bob's: neither part may
    # take the other person's end.
    mixed = folder([ALICE] * 5 + [BOB] * 4)
    boxes = [(20.0 * k, 100.0, 20.0 * k + 40, 200.0) for k in range(5)]
    boxes += [(600.0 - 20 * k, 100.0, 640.0 - 20 * k, 200.0) for k in range(4)]
    mixed.boxes = {p.name: box for p, box in zip(mixed.images, boxes, strict=True)}
    mixed.appearances = [Appearance("r", "v.mp4", ((0, 90),), boxes[0], (520.0, 100.0, 560.0, 200.0), 10.0)]
    (split,) = find_splits([mixed], threshold=0.5)
    kept, new = (part.appearances[0] for part in split.parts)
    assert (kept.first_box, kept.last_box) == (boxes[0], boxes[4])
    assert (new.first_box, new.last_box) == (boxes[5], boxes[8]) and new.fps == 10.0

    # Someone left where Alice came in (x=0) just before Bob's first crop at x=600, 5 body heights
    # away 0.3 s later: another person (a veto), not a track that Bob's part continues.
    gone = folder([BOB] * 3, "id_6")
    gone.appearances = [Appearance("r", "v.mp4", ((10, 47),), boxes[0], boxes[0], 10.0)]
    evidence = motion_evidence([f.appearances for f in [*apply_splits([mixed], [split]), gone]])
    assert evidence.vetoes == {(1, 2)} and evidence.continuations == {}


def test_a_part_whose_crops_have_no_boxes_has_unknown_ends():
    mixed = folder([ALICE] * 5 + [BOB] * 4)
    mixed.appearances = [Appearance("r", "v.mp4", ((0, 90),), (0, 0, 40, 100), (0, 0, 40, 100), 10.0)]
    mixed.boxes = {mixed.images[0].name: (0.0, 0.0, 40.0, 100.0)}  # only the first crop's box was recorded
    kept, new = (part.appearances[0] for part in find_splits([mixed], threshold=0.5)[0].parts)
    assert (kept.first_box, kept.last_box, new.first_box, new.last_box) == ((0, 0, 40, 100), None, None, None)


def broken(mixed: Folder, lost: int, found: int) -> Folder:
    """``mixed`` with its track (10 frames a second) lost at frame ``lost`` and found again at ``found``."""
    (track,) = mixed.appearances
    mixed.appearances = [replace(track, segments=((0, lost), (found, track.segments[-1][1])), fps=10.0)]
    return mixed


def test_a_break_in_the_track_and_a_change_of_look_split_off_two_crops():
    # The tracker lost Alice at frame 52 and found "her" at 58 on Bob, whose two crops (frames 60, 70) end the track.
    mixed = broken(folder([ALICE] * 6 + [BOB] * 2), 52, 58)
    (split,) = find_splits([mixed], threshold=0.5)
    assert [len(p.images) for p in split.parts] == [6, 2] and min(split.parts[1].frames.values()) == 60
    assert describe(split).startswith(
        "id_5 seems to change person once: it keeps its first 6 crops. From frame 60, 2 crops become a new folder: "
        "lost at frame 52 and found 0.6 s later, and the crops after look unlike those before"
    )
    # One odd crop is not enough, even after a break: a one-crop part would count as one more person.
    assert find_splits([broken(folder([ALICE] * 6 + [BOB]), 52, 58)], threshold=0.5) == []
    assert find_splits([broken(folder([ALICE] * 6 + [BOB]), 52, 58)], 0.5, rule=SplitRule(min_part=1)) != []
    # Without the break, the looks alone need 3 crops either side.
    assert find_splits([folder([ALICE] * 6 + [BOB] * 2)], threshold=0.5) == []
    assert find_splits([broken(folder([ALICE] * 6 + [BOB] * 2), 52, 58)], 0.5, rule=SplitRule(breaks=False)) == []


def test_a_break_where_the_looks_stay_is_one_person_walking_on():
    assert find_splits([broken(folder([ALICE] * 9), 42, 48)], threshold=0.5) == []
    assert find_splits([broken(folder([ALICE] * 4 + [BOB] * 5), 42, 48)], threshold=0.5) != []  # the looks change


def test_a_box_that_grows_at_a_change_of_look_is_a_switch():
    # Bob, nearer the camera, is twice as tall as Alice: the track's box grows at his first crop.
    mixed = folder([ALICE] * 6 + [BOB] * 2)
    mixed.boxes = {p.name: (10.0 * k, 50.0, 10.0 * k + 30, 150.0) for k, p in enumerate(mixed.images)}
    mixed.boxes[mixed.images[-2].name] = (60.0, 0.0, 120.0, 200.0)
    mixed.boxes[mixed.images[-1].name] = (62.0, 0.0, 122.0, 200.0)
    (split,) = find_splits([mixed], threshold=0.5)
    assert [len(p.images) for p in split.parts] == [6, 2]
    assert "From frame 60, 2 crops become a new folder: followed from frame 50 to 60 (0.4 s); " in describe(split)
    assert "its box grew 100%, and the crops after look unlike" in describe(split)
    assert find_splits([mixed], 0.5, rule=SplitRule(resizes=False)) == []


def test_the_footage_level_replaces_the_threshold_in_its_video():
    # Alice and Bob look less alike than the threshold 0.5 but not less than the footage's level for
    # v.mp4 (-0.9: people seen together there are very unlike each other); other videos keep the threshold.
    mixed = folder([ALICE] * 5 + [BOB] * 4)
    mixed.camera = "v.mp4"
    assert find_splits([mixed], 0.5, {"v.mp4": -0.9}) == []
    (split,) = find_splits([mixed], 0.5, {"other.mp4": -0.9})
    assert "under the merge threshold 0.50" in describe(split)
    (split,) = find_splits([mixed], 0.5, {"v.mp4": 0.45})
    assert "under 0.45, which only 5% of the pairs of people seen together in its video reach)" in describe(split)


def test_the_plan_splits_at_the_footages_level_not_the_merge_threshold():
    # Nine people seen together in v.mp4 (45 pairs with the folder below): different people there
    # are about orthogonal. A track whose two sides are 0.3 alike (under the merge threshold 0.5) is
    # then not as unlike as people seen together, and stays whole; sides at -0.9 are split.
    basis = np.eye(16)
    people = [folder([basis[k]] * 3, f"id_{k + 10}") for k in range(9)]
    alike = folder([basis[9]] * 5 + [0.3 * basis[9] + 0.954 * basis[10]] * 4)
    unlike = folder([basis[11]] * 5 + [-0.9 * basis[11] + 0.436 * basis[12]] * 4, "id_6")
    for f in [*people, alike, unlike]:
        f.camera = "v.mp4"
    off = Normalisation(False, "off")
    assert [s.folder.name for s in find_splits([alike, unlike], threshold=0.5)] == ["id_5", "id_6"]
    decision = decide_at([*people, alike, unlike], 0.5, off)
    assert [s.folder.name for s in decision.splits] == ["id_6"]
    assert "which only 5% of the pairs of people seen together in its video reach" in describe(decision.splits[0])
