"""The video evaluation: motmetrics on known cases, the pure identity scores, the merge wiring,
the command end to end on a real MOTChallenge clip, and its one-line errors."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import conftest
from conftest import REPO, assert_clean_error
from reid.core.backbones import MERGE_THRESHOLDS
from reid.evaluation import identity as ident
from reid.evaluation.identity import Identity
from reid.evaluation.timeline import Clip, Timeline, transfers
from reid.evaluation.video_folders import FolderScore, score_folders
from reid.evaluation.video_merge import Outcome, Variant, caused_mixing, merge_sweeps, mixing
from reid.evaluation.video_summary import count_row, score_splits
from reid.matching.folders import Folder, scan_folders
from reid.matching.grouping import Appearance
from reid.tracking.mot import MotRow

A, B = (0.0, 0.0, 10.0, 20.0), (100.0, 0.0, 10.0, 20.0)  # two people far apart


def rows(track: dict[int, int], box: tuple[float, float, float, float], frames=range(1, 5)) -> list[MotRow]:
    """One box per frame, with the id ``track[frame]``."""
    return [MotRow(f, track[f], *box) for f in frames]


GT = rows(dict.fromkeys(range(1, 5), 1), A) + rows(dict.fromkeys(range(1, 5), 2), B)  # 8 boxes


@pytest.fixture(scope="session")
def tud_clip() -> tuple[Path, Path]:
    """TUD-Stadtmitte (MOT15): 179 frames, 25 fps, 640x480, 10 ids, and its ground truth."""
    folder = conftest.DATA_DIR / "mot" / "tud-stadtmitte"
    video, gt = folder / "tud-stadtmitte.mp4", folder / "gt.txt"
    if not (video.is_file() and gt.is_file()):
        conftest.unavailable(f"{folder} is missing: {conftest.DATA_HINT}")
    return video, gt


def test_motmetrics_perfect_tracks():
    hyp = rows(dict.fromkeys(range(1, 5), 10), A) + rows(dict.fromkeys(range(1, 5), 20), B)
    scores = ident.mot_scores(GT, hyp)
    assert (scores["idf1"], scores["mota"], scores["num_switches"]) == (1.0, 1.0, 0)
    assert ident.tracked_share(GT, hyp) == {1: 1.0, 2: 1.0}


def test_motmetrics_one_id_changed_halfway():
    # person 1 is track 10 in frames 1-2, then track 30 in frames 3-4; person 2 is track 20 throughout.
    # IDF1 pairs whole trajectories one to one: 1<->10 (or 30) shares 2 boxes, 2<->20 shares 4, so
    # IDTP = 6 of 8 GT and 8 predicted boxes: IDF1 = 2*6 / (8 + 8) = 0.75 (down 0.25 from 1.0).
    # One switch (person 1: 10 -> 30); no miss, no false positive: MOTA = 1 - 1/8 = 0.875.
    hyp = rows({1: 10, 2: 10, 3: 30, 4: 30}, A) + rows(dict.fromkeys(range(1, 5), 20), B)
    scores = ident.mot_scores(GT, hyp)
    assert scores["idf1"] == pytest.approx(0.75)
    assert scores["num_switches"] == 1
    assert scores["mota"] == pytest.approx(0.875)


def test_motmetrics_two_ids_swapped_halfway():
    # tracks 10 and 20 swap people after frame 2: each GT trajectory shares 2 boxes with its best
    # track, IDTP = 2 + 2 = 4, IDF1 = 2*4 / (8 + 8) = 0.5; two switches, MOTA = 1 - 2/8 = 0.75.
    hyp = rows({1: 10, 2: 10, 3: 20, 4: 20}, A) + rows({1: 20, 2: 20, 3: 10, 4: 10}, B)
    scores = ident.mot_scores(GT, hyp)
    assert scores["idf1"] == pytest.approx(0.5)
    assert scores["num_switches"] == 2
    assert scores["mota"] == pytest.approx(0.75)


def test_motmetrics_misses_and_false_positives():
    hyp = rows(dict.fromkeys(range(1, 3), 10), A, range(1, 3)) + [MotRow(1, 99, 300, 300, 10, 10)]
    scores = ident.mot_scores(GT, hyp)
    assert scores["recall"] == pytest.approx(2 / 8) and scores["precision"] == pytest.approx(2 / 3)
    assert scores["mota"] == pytest.approx(1 - (6 + 1) / 8)  # 6 misses, 1 false positive
    assert ident.tracked_share(GT, hyp) == {1: 0.5, 2: 0.0}


def test_iou_distances():
    half = (5.0, 0.0, 10.0, 20.0)  # overlaps A by half its width: IoU = 100 / 300
    d = ident.iou_distances([A, B], [A, half, (1.0, 0.0, 10.0, 20.0)])
    assert d.shape == (2, 3)
    assert d[0, 0] == 0.0 and math.isnan(d[0, 1]) and d[0, 2] == pytest.approx(1 - 180 / 220)
    assert np.isnan(d[1]).all()
    assert ident.iou_distances([], [A]).shape == (0, 1) and ident.iou_distances([A], []).shape == (1, 0)


def test_match_boxes_takes_the_best_overlap_in_the_same_frame():
    gt = ident.by_frame([MotRow(1, 1, *A), MotRow(1, 2, 6.0, 0.0, 10.0, 20.0), MotRow(2, 2, *B)])
    boxes = [
        (1, (1.0, 0.0, 10.0, 20.0)),  # IoU 180/220 with person 1, 100/300 with person 2
        (1, (5.0, 0.0, 10.0, 20.0)),  # the other way round
        (2, A),  # person 1 is not annotated in frame 2, and B is far
        (3, A),  # no GT in frame 3
        (1, (50.0, 50.0, 5.0, 5.0)),  # on nobody
    ]
    assert ident.match_boxes(gt, boxes) == [1, 2, None, None, None]


def test_identity_majority_purity_and_unmatched():
    i = ident.identity_of([3, 3, 5, None])
    assert (i.majority, i.majority_boxes, i.unmatched, i.purity) == (3, 2, 1, 0.5)
    assert ident.identity_of([5, 3]).majority == 3  # a tie goes to the lowest id
    nobody = ident.identity_of([None, None])
    assert (nobody.majority, nobody.purity, nobody.unmatched) == (None, 0.0, 2)
    assert ident.identity_of([]).purity == 0.0


def test_visible_coverage_fragmentation_purity():
    gt = rows(dict.fromkeys(range(1, 5), 1), A) + rows({1: 2, 2: 2}, B, range(1, 3)) + [MotRow(1, 3, *A)]
    visible = ident.visible_ids(gt, min_frames=2)
    assert visible == {1, 2}
    folders = [Identity(10, 1, 10, 0), Identity(4, 1, 3, 1), Identity(5, 3, 5, 0), Identity(2, None, 0, 2)]
    assert ident.coverage(visible, folders) == 0.5  # 1 is some folder's majority, 2 is nobody's
    assert math.isnan(ident.coverage(set(), folders))
    assert ident.fragmentation(folders) == (1.5, 2)  # id 1 in two folders, id 3 in one
    assert ident.share_pure(folders) == 0.5  # 10/10 and 5/5; 3/4 and 0/2 are not
    assert math.isnan(ident.share_pure([]))
    c = ident.count_scores(folders, visible)
    assert (c.folders, c.targets, c.covered, c.pure, c.off_gt, c.pure_on_gt) == (4, 2, 1, 2, 1, 2)
    assert (c.boxes, c.unmatched, c.coverage, c.pure_share) == (21, 3, 0.5, 0.5)


def test_pair_truth_and_merged_identities():
    folders = [Identity(4, 7, 4, 0), Identity(4, 7, 2, 2), Identity(3, 7, 1, 2), Identity(1, None, 0, 1)]
    truth = ident.pair_truth(folders)
    assert truth[:2] == [7, 7] and truth[2] != 7 and truth[2] != truth[3]  # under half pure: nobody
    assert [i.off_gt for i in folders] == [False, False, True, True]  # 2 of 4 unmatched is not "most"
    assert ident.merged_pairs([0, 0, 0, 3], folders) == (3, 2)  # pairs 0-1, 0-2, 1-2; two involve folder 2
    merged = ident.merged_identities([[7, 7], [7, None], [8]], [0, 0, 2])
    assert [(m.majority, m.boxes, m.unmatched) for m in merged] == [(7, 4, 1), (8, 1, 0)]


class FakeExtractor:
    """Embeds every crop as the vector of its file name's first letter."""

    vectors = {"a": [1.0, 0.0], "b": [0.99, 0.14], "c": [0.0, 1.0]}

    def embed_files(self, paths, on_batch=None):
        out = np.array([self.vectors[p.name[0]] for p in paths], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True), {}


def folder_score(tmp_path, n: int, letters: str, gt_ids: list[int], first: int) -> FolderScore:
    """Folder id_<n>: one crop per letter, crop k at frame first + 10 k (one track, 10 fps)."""
    files = [f"{letter}_f{first + 10 * k:06d}.jpg" for k, letter in enumerate(letters)]
    frames = {name: first + 10 * k for k, name in enumerate(files)}
    track = Appearance("run", "clip.mp4", ((first, first + 10 * (len(files) - 1)),), fps=10.0)
    folder = Folder(f"id_{n}", tmp_path, [tmp_path / f for f in files], [track], camera="clip.mp4", frames=frames)
    crops = ident.identity_of(gt_ids)
    return FolderScore(
        folder, n, gt_ids, crops, Identity(0, None, 0, 0), (first, first), dict(zip(files, gt_ids, strict=True))
    )


def test_the_plan_relabels_the_tracks_by_group(tmp_path):
    # person 1 is split into folders id_1 (frames 1-2) and id_2 (frames 3-4); id_3 is person 2
    hyp = rows({1: 1, 2: 1, 3: 2, 4: 2}, A) + rows(dict.fromkeys(range(1, 5), 3), B)
    scored = [folder_score(tmp_path, 1, "aa", [1, 1], 0), folder_score(tmp_path, 2, "bb", [1, 1], 100)]
    scored.append(folder_score(tmp_path, 3, "cc", [2, 2], 300))
    assert ident.mot_scores(GT, hyp)["num_switches"] == 1
    normalisation, (sweep,) = merge_sweeps(
        scored, GT, hyp, FakeExtractor, [0.9], lambda folders, applied: 0.999, normalise=False
    )
    low, high = sweep.rows[0], sweep.default
    assert not normalisation.applied and high.threshold == 0.999
    assert len(low.identities) == 2 and low.pairwise == (1.0, 1.0) and low.pairs == (1, 0)
    assert (low.mot["idf1"], low.mot["num_switches"]) == (1.0, 0)
    assert len(high.identities) == 3 and high.pairwise == (1.0, 0.0) and high.mot["num_switches"] == 1


def test_a_split_part_is_a_folder_of_its_own_and_can_join_its_person(tmp_path):
    # id_1's track shows person 1 (crops at frames 0-20, box A), then person 2 (frames 30-50, box B): an
    # id switch. id_2 is person 2 later on (frames 60-80). The plan splits id_1 and merges its second part
    # with id_2: every folder is then pure and the tracks score perfectly.
    first, second, later = (1, 11, 21), (31, 41, 51), (61, 71, 81)
    gt = rows(dict.fromkeys(first, 1), A, first) + rows(dict.fromkeys(second + later, 2), B, second + later)
    hyp = rows(dict.fromkeys(first, 1), A, first) + rows(dict.fromkeys(second, 1), B, second)
    hyp += rows(dict.fromkeys(later, 2), B, later)
    scored = [folder_score(tmp_path, 1, "aaaccc", [1, 1, 1, 2, 2, 2], 0), folder_score(tmp_path, 2, "ccc", [2] * 3, 60)]
    before = ident.mot_scores(gt, hyp)
    assert before["num_switches"] == 1 and ident.identity_of(scored[0].crop_ids).purity == 0.5
    for motion in (Variant(False), Variant(True, 0.1)):
        _, (sweep,) = merge_sweeps(scored, gt, hyp, FakeExtractor, [0.5], lambda *_: 0.5, [motion], normalise=False)
        after = sweep.default
        assert after.splits == 1 and sorted(i.boxes for i in after.identities) == [3, 6]
        assert all(i.purity == 1.0 and mixing(i) == 0.0 for i in after.identities)
        assert after.pairwise == (1.0, 1.0) and after.pairs == (1, 0)
        assert (after.mot["idf1"], after.mot["num_switches"]) == (1.0, 0)


def test_mixing_counts_a_second_person_not_crops_on_nobody():
    assert mixing(ident.identity_of([1, 1, 1, 2])) == 0.25 and mixing(ident.identity_of([1, 1, None, None])) == 0.0
    pure, other, mixed = ident.identity_of([1] * 19), ident.identity_of([2] * 3), ident.identity_of([1] * 8 + [2] * 2)
    ids = [[1] * 19, [2] * 3, [1] * 8 + [2] * 2]
    # joining two people's folders mixes them (13% of 22 crops); a folder mixed by the tracker is not the merge's doing
    assert caused_mixing([pure, other, mixed], ids, [0, 0, 2]) == 1
    assert caused_mixing([pure, other, mixed], ids, [0, 1, 0]) == 0
    assert caused_mixing([pure, ident.identity_of([2]), mixed], [[1] * 19, [2], ids[2]], [0, 0, 2]) == 0  # 1 of 20


def run_command(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reid.evaluation.video", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def reid_0287() -> Path:
    model = (
        conftest.DATA_DIR
        / "weights/intel/person-reidentification-retail-0287/FP32/person-reidentification-retail-0287.xml"
    )
    if not model.is_file():
        conftest.unavailable(f"{model} is missing: {conftest.DATA_HINT}")
    return model


@pytest.mark.slow
def test_the_command_on_a_real_clip(tmp_path, tud_clip, detector, reid_0287):
    video, gt = tud_clip
    out, keep = tmp_path / "report.md", tmp_path / "work"
    proc = run_command(
        *("--video", video, "--gt", gt, "--model", detector, "--max-frames", 60),
        *("--backbone", "reid-0287", "--weights", reid_0287, "--thresholds", "0.2:0.6:0.2"),
        *("--compare-motion", "--link-bonus", "0,0.1", "--output", out, "--keep", keep, "--quiet"),
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    assert report in proc.stdout
    for section in (
        "Settings: video `tud-stadtmitte.mp4`, 60 of 179 frames",
        "#### Before the merge",
        "#### Per folder",
        "#### Per GT id",
        "#### The merge plan",
        "Camera: no per-camera normalisation",  # a few folders in 60 frames: the camera mean would be theirs
    ):
        assert section in report
    value = {m: v for m, v in re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|", report, re.M)}
    assert int(value["GT ids in the frames tracked"]) > 0
    counted = int(value["persons counted (folders)"].split()[0])
    assert counted == len(list((keep / "persons").glob("id_*"))) > 0
    idf1, mota, switches = (float(x) for x in value["IDF1 / MOTA / ID switches"].split(" / "))
    assert 0 <= idf1 <= 1 and mota <= 1 and switches >= 0
    coverage = float(value["coverage of GT ids visible >= 2 s"].split()[0])
    assert 0 <= coverage <= 1
    default = f"{MERGE_THRESHOLDS['reid-0287'].raw:.2f}"
    plans = [line.split(" | ")[0] for line in report.splitlines() if line.startswith(("| before", "| after"))]
    assert plans == ["| before the merge", "| after, motion evidence off"] + [
        f"| after, motion evidence on, LINK_BONUS {bonus}" for bonus in ("0", "0.1")
    ] + ["| after, the default plan of deeplearningg_reID.py"]  # LINK_BONUS 0.05 is none of the two
    sweeps = report.split("##### Sweep, ")[1:]
    assert [s.splitlines()[0] for s in sweeps] == [
        "motion evidence off",
        "motion evidence on, LINK_BONUS 0",
        "motion evidence on, LINK_BONUS 0.1",
    ]
    for sweep in sweeps:
        rows = [line for line in sweep.splitlines() if re.match(r"\| 0\.\d\d", line)]
        assert len(rows) == 4 and rows[-1].startswith(f"| {default} (default)")  # 0.2, 0.4, 0.6, then the default
        after = [int(line.split("|")[3]) for line in rows[:-1]]
        assert after == sorted(after) and after[-1] <= counted  # a higher threshold merges less


def count_cells(report: str) -> list[str]:
    """The cells of the report's one-row count table."""
    table = report.split("#### The count\n\n", 1)[1].splitlines()
    return [cell.strip() for cell in table[2].strip("|").split("|")]


@pytest.mark.slow
def test_two_cameras_are_one_count_and_each_can_be_scored_alone(tmp_path, detector, reid_0287):
    folder = conftest.DATA_DIR / "mot" / "epfl-terrace"
    cameras = [(folder / f"terrace1-c{n}.mp4", folder / f"gt-c{n}.txt") for n in (0, 1)]
    if not all(video.is_file() and gt.is_file() for video, gt in cameras):
        conftest.unavailable(f"{folder} is missing: {conftest.DATA_HINT}")
    common = ("--model", detector, "--max-frames", 150, "--backbone", "reid-0287", "--weights", reid_0287)
    common += ("--thresholds", "0.3:0.3:0.1", "--quiet")
    pairs = [arg for video, gt in cameras for arg in ("--video", video, "--gt", gt)]
    keep, both = tmp_path / "run", tmp_path / "both.md"
    proc = run_command(*pairs, *common, "--keep", keep, "--output", both)
    assert proc.returncode == 0, proc.stderr
    report = both.read_text()
    assert "Settings: videos (1) `terrace1-c0.mp4`, 150 of 3000 frames" in report
    assert "(2) `terrace1-c1.mp4`, 150 of 3000 frames" in report
    assert "| folder | video | track frames (from 0) |" in report
    assert "| IDF1 / MOTA / ID switches, terrace1-c1.mp4 alone |" in report
    cells = count_cells(report)
    assert cells[0] == "terrace1-c0.mp4 + terrace1-c1.mp4" and int(cells[2]) == len(
        list((keep / "persons").glob("id_*"))
    )
    alone = []
    for n, (video, gt) in enumerate(cameras):  # each camera from the same run, without tracking again
        out = tmp_path / f"c{n}.md"
        proc = run_command("--video", video, "--gt", gt, *common, "--tracked", keep, "--output", out)
        assert proc.returncode == 0, proc.stderr
        assert "Wall time: scoring and merge sweep" in out.read_text() and "tracked earlier into" in out.read_text()
        alone.append(count_cells(out.read_text()))
    assert int(cells[2]) == sum(int(c[2]) for c in alone)  # folders after tracking: one camera's or the other's
    assert int(cells[1]) >= max(int(c[1]) for c in alone)  # GT persons: ids of either camera
    assert int(cells[10]) == sum(int(c[10]) for c in alone)  # ID switches are counted in each video
    elsewhere = run_command(*pairs[:4], *common, "--tracked", tmp_path / "nothing", timeout=120)
    assert_clean_error(elsewhere, 1, "no tracking.json")


def test_a_missing_ground_truth_is_one_error_line(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not checked before the ground truth")
    proc = run_command("--video", video, "--gt", tmp_path / "gt.txt", "--model", "x.tflite", timeout=120)
    assert_clean_error(proc, 1, "gt.txt is not a file")


def test_each_video_needs_its_ground_truth(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    proc = run_command("--video", video, "--gt", tmp_path / "gt.txt", "--video", video, timeout=120)
    assert_clean_error(proc, 2, "each --video needs its --gt")


def test_a_malformed_ground_truth_line_is_one_error_line(tmp_path):
    video, gt = tmp_path / "clip.mp4", tmp_path / "gt.txt"
    video.write_bytes(b"x")
    gt.write_text("1,1,10,10,5,20,1,-1,-1,-1\n2,one,10,10,5,20,1,-1,-1,-1\n")
    proc = run_command("--video", video, "--gt", gt, timeout=120)
    assert_clean_error(proc, 1, "line 2")


# Several videos as one count: two cameras whose ground truth shares ids. Camera 0 sees person 1 at A and
# person 2 at B; camera 1 sees person 2 at A and person 3 at B (frames 1-8, 2 fps: 2 s = 4 frames).
C0, C1 = "/cams/c0.mp4", "/cams/c1.mp4"
GT_C0 = rows(dict.fromkeys(range(1, 5), 1), A) + rows(dict.fromkeys(range(1, 9), 2), B, range(1, 9))
GT_C1 = rows(dict.fromkeys(range(1, 5), 2), A) + rows(dict.fromkeys(range(1, 9), 3), B, range(1, 9))


def crop(name: str, frame: int, box: tuple[float, float, float, float], **extra) -> dict:
    x, y, w, h = box
    return {"file": f"{name}_f{frame:06d}{extra.pop('suffix', '')}.jpg", "frame": frame, "box": [x, y, x + w, y + h]}


def track(person_id: int, video: str, crops: list[dict]) -> dict:
    frames = [c["frame"] for c in crops]
    return {"person_id": person_id, "run_id": "r", "video": video, "segments": [[min(frames), max(frames)]], "fps": 2.0}


def make_folder(persons: Path, name: str, document: dict) -> None:
    folder = persons / name
    folder.mkdir(parents=True)
    for entry in document["crops"]:
        (folder / entry["file"]).write_bytes(b"jpeg")
    (folder / "track.json").write_text(json.dumps({"schema": 1, **document}))


@pytest.fixture
def two_cameras(tmp_path) -> tuple[Timeline, list]:
    """id_1, id_2: camera 0's people 1 and 2; id_3: person 2 in both cameras, merged (its crops of camera 1
    are at A, where camera 0 shows person 1); id_4: camera 1, person 2 for one crop, then person 3 (mixed)."""
    persons = tmp_path / "persons"
    one = [crop("a", f, A) for f in range(4)]
    two = [crop("c", f, B) for f in range(4, 8)]
    make_folder(persons, "id_1", {**track(1, C0, one), "crops": one})
    make_folder(persons, "id_2", {**track(2, C0, two), "crops": two})
    c0, c1 = [crop("c", f, B) for f in (0, 1)], [crop("c", f, A, suffix="__id_8") for f in (0, 1)]
    merged = [{**c, "source_folder": "id_7"} for c in c0] + [{**c, "source_folder": "id_8"} for c in c1]
    make_folder(persons, "id_3", {"person_id": 7, "tracks": [track(7, C0, c0), track(8, C1, c1)], "crops": merged})
    mixed = [crop("a", 2, A)] + [crop("a", f, B) for f in (4, 5, 6)]
    make_folder(persons, "id_4", {**track(4, C1, mixed), "crops": mixed})
    hyp_c0 = rows(dict.fromkeys(range(1, 5), 1), A) + rows(dict.fromkeys(range(5, 9), 2), B, range(5, 9))
    hyp_c0 += rows(dict.fromkeys((1, 2), 7), B, (1, 2))
    hyp_c1 = rows(dict.fromkeys((1, 2), 8), A, (1, 2)) + rows(dict.fromkeys((3, 5, 6, 7), 4), A, (3,))
    hyp_c1 += rows(dict.fromkeys((5, 6, 7), 4), B, (5, 6, 7))
    clips = [
        Clip(C0, "c0.mp4", 2.0, 8, tuple(GT_C0), tuple(hyp_c0)),
        Clip(C1, "c1.mp4", 2.0, 8, tuple(GT_C1), tuple(hyp_c1)),
    ]
    timeline = Timeline(clips)
    return timeline, score_folders(scan_folders(persons), timeline)


def test_each_crop_is_matched_to_its_own_videos_ground_truth(two_cameras):
    timeline, scored = two_cameras
    assert timeline.offsets == {C0: 0, C1: 8} and timeline.gt_ids == {1, 2, 3}
    by_name = {s.folder.name: s for s in scored}
    assert by_name["id_1"].crop_ids == [1, 1, 1, 1] and by_name["id_2"].crop_ids == [2, 2, 2, 2]
    # the merged folder: camera 1's crops at A are person 2 there (person 1 is at A in camera 0)
    assert sorted(by_name["id_3"].crop_ids) == [2, 2, 2, 2] and by_name["id_3"].crops.purity == 1.0
    assert by_name["id_3"].boxes.purity == 1.0  # the boxes of both its tracks (MOT ids 7 and 8)
    assert by_name["id_4"].crop_ids == [2, 3, 3, 3] and mixing(by_name["id_4"].crops) == 0.25
    assert (by_name["id_4"].offset, by_name["id_4"].video) == (8, "c1.mp4")
    c = ident.count_scores([s.crops for s in scored], timeline.visible)
    assert (c.folders, c.targets, c.covered, c.per_id) == (4, 3, 3, (4 / 3, 2))


def test_a_person_is_visible_over_both_videos_together():
    half = rows(dict.fromkeys((1, 2), 5), A, (1, 2))  # 2 frames of 4 needed in each camera
    timeline = Timeline([Clip(C0, "c0", 2.0, 8, tuple(half), ()), Clip(C1, "c1", 2.0, 8, tuple(half), ())])
    assert timeline.visible == {5}
    assert Timeline(timeline.clips[:1]).visible == set()
    assert [r.frame for r in timeline.gt] == [1, 2, 9, 10]


def test_switches_and_transfers_are_counted_in_each_video(two_cameras):
    timeline, _ = two_cameras
    c1 = timeline.clips[1]
    assert transfers(c1.gt, c1.hypotheses) == [(5, 4)]  # id_4 passes from person 2 to person 3 at frame 5
    assert transfers(timeline.clips[0].gt, timeline.clips[0].hypotheses) == []


def test_the_plan_on_two_videos_scores_merges_across_them(two_cameras):
    # id_2 and the merged id_3 look alike (person 2 in both cameras); id_1 and id_4 look alike too, but are
    # persons 1 and 3: one right merge, one wrong
    timeline, scored = two_cameras

    class Letters(FakeExtractor):
        vectors = {"a": [1.0, 0.0], "c": [0.0, 1.0]}

    _, (sweep,) = merge_sweeps(
        scored, timeline.gt, timeline.hypotheses, Letters, [], lambda *_: 0.5, [Variant(False)], normalise=False
    )
    after = sweep.default
    assert len(after.identities) == 2 and after.wrong_merges == 1 and after.pairwise == (0.5, 1.0)
    assert after.splits == 0 and after.caused_mixing == 1
    transfers_by_folder = {4: [5]}
    splits = score_splits(scored, after, transfers_by_folder)
    assert (splits.mixed, splits.split, splits.transfers, splits.transfers_in_mixed) == (1, 0, 1, 1)
    row = count_row("both", Outcome([s.crops for s in scored], {}), after, timeline.visible, 3, 1, splits)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells == ["both", "3", "4", "1 (25%)", "2", "1 (50%)", "1.33 (2), 1.00 (1)", "2 / 3"] + [
        "0.500 / 1.000",
        "1",
        "1",
        "0 of 1",
    ]
