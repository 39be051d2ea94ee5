"""The evaluation command: fragmenting labelled crops, scoring a sweep, the real model end to end."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import pytest

from conftest import REPO
from reid.core.errors import InputError
from reid.evaluation.crops import Evaluation, SweepRow, fragment, pair_recall, parse_thresholds
from reid.evaluation.scores import Scores


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


def test_lowest_threshold_keeping_precision():
    def row(t, p):
        return SweepRow(t, 0, Scores(p, 0.5, 1, 1), 0, 0)

    ev = Evaluation([], rows=[row(0.5, 0.3), row(0.6, 0.995), row(0.7, 0.98), row(0.8, 0.999), row(0.9, 1.0)])
    assert ev.lowest_threshold_with_precision().threshold == 0.8  # 0.6 is followed by a drop at 0.7


def test_parse_thresholds():
    assert parse_thresholds("0.5:0.6:0.05") == [0.5, 0.55, 0.6]
    assert parse_thresholds("0.8,0.9") == [0.8, 0.9]
    with pytest.raises(InputError):
        parse_thresholds("0.5:0.6:0")


def test_the_command_on_real_crops_with_genuine_weights(tmp_path, labelled_crops, mobilenet_v2):
    for pid in ("001", "003", "007", "008"):
        shutil.copytree(labelled_crops / pid, tmp_path / "labelled" / pid)
    out = tmp_path / "report.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "reid.evaluation.crops",
            "--labelled",
            str(tmp_path / "labelled"),
            "--backbone",
            "mobilenetv2",
            "--weights",
            str(mobilenet_v2),
            "--thresholds",
            "0.5:0.99:0.07",
            "--output",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    assert report in proc.stdout
    assert "16 person folders of 4 identities." in report
    rows = [line for line in report.splitlines() if line.startswith("| 0.")]
    assert len(rows) == 9 and rows[-1].startswith("| 0.94 (default)")  # 0.50, 0.57, ... 0.99, then the default
    # at 0.50 ImageNet features merge almost everything; at 0.99 nothing: folders after grows with the threshold
    after = [int(line.split("|")[2]) for line in rows[:-1]]
    assert after == sorted(after) and after[0] < 16 and after[-1] == 16
    assert "Pairwise precision stays >= 0.99" in report


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
