"""The crops evaluation: fragmenting labelled crops, scoring a sweep, the held-out threshold choice (on
constructed embeddings where the rule's answer is known), and the command end to end with a real model."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR, DATA_HINT, REPO, unavailable
from reid.core.backbones import MERGE_THRESHOLDS
from reid.core.errors import InputError
from reid.evaluation.calibration import Choice, choose, halves, hold_out
from reid.evaluation.crops_report import format_held_out
from reid.evaluation.labelled import cut, fragment, read_labelled
from reid.evaluation.scores import Scores
from reid.evaluation.sweep import (
    Evaluation,
    MemoryCache,
    SweepRow,
    evaluate,
    pair_recall,
    parse_thresholds,
    precision_edge,
)

REID_0287 = DATA_DIR / "weights/intel/person-reidentification-retail-0287/FP32/person-reidentification-retail-0287.xml"


def test_fragments_follow_identity_and_camera(tmp_path):
    for pid, names in {"7": ["01_1.png", "01_2.png", "01_3.png", "02_1.png"], "9": ["a.jpg", "b.jpg"]}.items():
        (tmp_path / pid).mkdir()
        for name in names:
            (tmp_path / pid / name).write_bytes(b"x")
    (tmp_path / "9" / "notes.txt").write_text("x")
    frags = fragment(tmp_path, 2)
    assert [(f.identity, f.camera, [p.name for p in f.images]) for f in frags] == [
        ("7", "01", ["01_1.png", "01_2.png"]),
        ("7", "01", ["01_3.png"]),
        ("7", "02", ["02_1.png"]),
        ("9", "-", ["a.jpg", "b.jpg"]),
    ]


def test_mixed_sizes_cover_every_crop_once_and_repeat_with_the_seed(tmp_path):
    labelled = {f"{k}": {"c": [tmp_path / f"{k}_{j}.png" for j in range(8)]} for k in range(20)}
    mixed = cut(labelled, "mixed", seed=3)
    assert sorted(p for f in mixed for p in f.images) == sorted(p for c in labelled.values() for p in c["c"])
    assert all(list(f.images) == sorted(f.images) for f in mixed)  # consecutive crops, like a track's
    sizes = {len(f.images) for f in mixed}
    assert min(sizes) == 1 and max(sizes) > 2  # folders of many sizes
    assert [f.images for f in cut(labelled, "mixed", seed=3)] == [f.images for f in mixed]
    assert [len(f.images) for f in cut(labelled, 3, ["0"])] == [3, 3, 2]


def test_fragment_errors(tmp_path):
    with pytest.raises(InputError):
        fragment(tmp_path / "missing", 4)
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.png").write_bytes(b"x")
    with pytest.raises(InputError, match="at least two identity"):
        fragment(tmp_path, 4)


def test_pair_recall_within_and_across_cameras():
    truth = ["a", "a", "a", "b"]
    cameras = ["1", "1", "2", "1"]
    predicted = [0, 0, 2, 3]  # found the within-camera pair, missed both cross-camera ones
    assert pair_recall(truth, cameras, predicted, across=False) == 1.0
    assert pair_recall(truth, cameras, predicted, across=True) == 0.0
    assert math.isnan(pair_recall(["a", "b"], ["1", "1"], [0, 1], across=True))


def row(t: float, precision: float, recall: float = 0.5) -> SweepRow:
    return SweepRow(t, 0, Scores(precision, recall, 1, 1), 0, 0)


def test_lowest_threshold_keeping_precision():
    ev = Evaluation([], rows=[row(0.5, 0.3), row(0.6, 0.995), row(0.7, 0.98), row(0.8, 0.999), row(0.9, 1.0)])
    assert ev.lowest_threshold_with_precision().threshold == 0.8  # 0.6 is followed by a drop at 0.7
    assert precision_edge([row(0.5, 0.3)]) is None


def test_the_rule_raises_the_edge_while_recall_stays_over_target_plus_margin():
    rows = [row(0.2, 0.95, 0.97), row(0.3, 0.995, 0.92), row(0.4, 1.0, 0.83), row(0.5, 1.0, 0.75), row(0.6, 1.0, 0)]
    chosen = choose(rows)  # edge 0.3; 0.4 still has recall >= 0.80, 0.5 does not
    assert (chosen.edge.threshold, chosen.threshold, chosen.by, chosen.calibrated) == (0.3, 0.4, "recall margin", True)
    # when the edge's recall is already under 0.80, the edge is the choice
    rows = [row(0.2, 0.9, 0.9), row(0.3, 1.0, 0.72), row(0.4, 1.0, 0.5)]
    assert (choose(rows).threshold, choose(rows).by) == (0.3, "precision edge")
    # a threshold where nothing merges is never calibrated
    nothing = choose([row(0.5, 0.5, 0.9), row(0.9, 1.0, 0.0)])
    assert nothing.threshold == 0.9 and not nothing.calibrated
    assert choose([row(0.5, 0.5)]) == Choice(None, None, "none")


def test_halves_are_disjoint_fixed_by_the_seed_and_balanced():
    ids = [f"{k:03d}" for k in range(11)]
    a, b = halves(ids, 0)
    assert sorted(a + b) == ids and len(a) == 5 and len(b) == 6
    assert halves(ids, 0) == (a, b) and halves(ids, 1) != (a, b)


class ConstructedExtractor:
    """Every crop of identity k is sqrt(S) u_k + sqrt(1 - S) w_crop, with u and w orthonormal: two crops of one
    person have similarity S = 0.605, of two people 0, whatever the folder sizes."""

    same = 0.605

    def __init__(self, identities: int, crops: int) -> None:
        self.crops = crops
        self.basis = np.eye(identities * (crops + 1), dtype=np.float32)
        self.embedded = 0

    def embed_files(self, paths, on_batch=None):
        self.embedded += len(paths)
        rows = []
        for path in paths:
            k, j = int(path.parent.name), int(path.stem.split("_")[1])
            u, w = self.basis[k], self.basis[len(self.basis) - 1 - (k * self.crops + j)]
            rows.append(math.sqrt(self.same) * u + math.sqrt(1 - self.same) * w)
        return np.array(rows, dtype=np.float32), {}


@pytest.fixture
def constructed(tmp_path) -> tuple[Path, ConstructedExtractor]:
    for k in range(8):
        (tmp_path / f"{k}").mkdir()
        for j in range(4):
            (tmp_path / f"{k}" / f"c_{j}.png").write_bytes(b"x")
    return tmp_path, ConstructedExtractor(8, 4)


def test_the_held_out_choice_on_constructed_embeddings(constructed):
    # Same person 0.605, different people 0: at 0.00 everything merges (precision < 0.99), from 0.01 on
    # precision is 1; every true pair merges up to 0.60, none above. The rule: the edge 0.01, raised to
    # the highest threshold with recall >= 0.80 on the choosing half: 0.60, in every split and direction.
    folder, extractor = constructed
    sweep = parse_thresholds("0:0.99:0.01")
    result = hold_out(read_labelled(folder), lambda: extractor, MemoryCache(), sweep, [0, 1], 2, normalise=False)
    assert extractor.embedded == 32  # each crop once: one network pass serves every cut
    assert len(result.runs) == 4 and result.default == 0.6
    for run in result.runs:
        assert run.identities == (4, 4) and not run.chosen_on.applied
        assert (run.choice.edge.threshold, run.choice.threshold, run.choice.by) == (0.01, 0.6, "recall margin")
        assert run.reported.scores.pairwise_precision == 1.0 and run.reported.scores.pairwise_recall == 1.0
        assert run.met
        assert [s.size for s in run.sizes] == [1, 2, 4, 8, "mixed"]
        assert [s.folders for s in run.sizes][:4] == [16, 8, 4, 4]  # 4 crops per (identity, camera) at most
        assert all(s.row.scores.pairwise_recall == 1.0 and s.row.scores.pairwise_precision == 1.0 for s in run.sizes)
    report = format_held_out(result)
    assert "met in 4 of 4 held-out evaluations" in report and "**0.60**" in report
    sizes = report.split("#### Folder sizes")[1].splitlines()
    sizes = [line for line in sizes if re.match(r"\| (\d|mixed)", line)]
    assert len(sizes) == 5 and all(line.endswith("| 4 of 4 |") for line in sizes)
    assert "at most 4 crops" in report


def test_the_sweep_normalises_per_camera_only_with_enough_folders(constructed):
    folder, extractor = constructed
    labelled = read_labelled(folder)
    few = evaluate(cut(labelled, 2), lambda: extractor, [0.3], lambda applied: 0.5 if applied else 0.4)
    assert len(few.fragments) == 16 and few.normalisation.applied  # one camera with 16 folders
    assert few.default.threshold == 0.5  # the per-camera threshold goes with the mode
    off = evaluate(cut(labelled, 2), lambda: extractor, [0.3], lambda applied: 0.5 if applied else 0.4, normalise=False)
    assert not off.normalisation.applied and off.default.threshold == 0.4
    assert off.rows[0].scores.pairwise_recall == 1.0 and off.rows[0].folders_after == 8


def test_parse_thresholds():
    assert parse_thresholds("0.5:0.6:0.05") == [0.5, 0.55, 0.6]
    assert parse_thresholds("0.8,0.9") == [0.8, 0.9]
    with pytest.raises(InputError):
        parse_thresholds("0.5:0.6:0")


@pytest.fixture(scope="module")
def reid_0287() -> Path:
    if not REID_0287.is_file():
        unavailable(f"{REID_0287} is missing: {DATA_HINT}")
    return REID_0287


@pytest.mark.slow
def test_the_command_on_real_crops_with_a_re_id_model(tmp_path, labelled_crops, reid_0287):
    for pid in sorted(p.name for p in labelled_crops.iterdir() if p.is_dir())[:6]:
        shutil.copytree(labelled_crops / pid, tmp_path / "labelled" / pid)
    out = tmp_path / "report.md"
    command = ["--labelled", tmp_path / "labelled", "--backbone", "reid-0287", "--weights", reid_0287]
    command += ["--thresholds", "0.2:0.8:0.2", "--choose-on-half", "--choice-thresholds", "0:0.9:0.05"]
    proc = subprocess.run(
        [sys.executable, "-m", "reid.evaluation.crops", *map(str, command), "--output", str(out), "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    assert report in proc.stdout
    # 6 people x 2 cameras x 8 views in folders of 4: 24 folders, 12 per camera (enough to normalise)
    assert "24 person folders of 6 identities; per-camera normalisation" in report
    rows = [line for line in report.splitlines() if line.startswith("| 0.")]
    default = MERGE_THRESHOLDS["reid-0287"].camera_normalised
    assert len(rows) == 5 and rows[-1].startswith(f"| {default:.2f} (default)")  # 0.2 .. 0.8, then the default
    after = [int(line.split("|")[2]) for line in rows[:-1]]
    assert after == sorted(after) and after[-1] <= 24  # a higher threshold merges less
    assert "#### Threshold chosen on half of the identities" in report
    held = [line for line in report.splitlines() if line.startswith("| 0 | ")]
    assert [line.split("|")[2].strip() for line in held] == ["A -> B", "B -> A"]
    assert all("| 3 / 3 |" in line and "raw / raw" in line for line in held)  # halves of 3: 6 folders per camera
    assert "#### Folder sizes" in report and "| mixed (1 to all, at random)" in report
    assert "| 4 | 12 | raw |" in report  # as many folders per camera as the choosing half had: the same mode


def test_the_command_reports_bad_input_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "reid.evaluation.crops", "--labelled", str(tmp_path / "none")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("Error: ") and "is not a folder of identity folders" in proc.stderr
