"""The benchmark quick mode runs end to end on small inputs, so the benchmarks cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys

from benchmarks.run import update_sections
from conftest import REPO

SECTIONS = [
    "Tracking speed",
    "Feature extraction speed",
    "Grouping time and memory",
    "Embedding cache",
    "Peak memory",
    "Re-identification accuracy",
    "Counting on the sample video",
    "Counting against ground truth",
    "Reliability",
]


def test_quick_mode_writes_every_section_with_figures(tmp_path, video, detector, mobilenet_v2, labelled_crops):
    report = tmp_path / "BENCHMARKS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--output", str(report), "--data", str(video.parents[1])],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = report.read_text()
    assert "FAILED" not in text
    assert "- command: `python -m benchmarks.run --quick`" in text and "- machine: " in text
    for title in SECTIONS:
        assert f"## {title}" in text
    # every target line carries a measured number and a verdict
    targets = re.findall(r"^- (met|\*\*not met\*\*): (.+) = ([\d.]+) \(target (.+)\)$", text, flags=re.MULTILINE)
    assert len(targets) >= 12
    assert all(float(value) > 0 for _, name, value, goal in targets if goal != "= 0" and "pure" not in name)
    # reliability: nothing failed, nothing lost, under load and under kills
    assert [(verdict, float(value)) for verdict, _, value, goal in targets if goal == "= 0"] == [("met", 0.0)] * 2
    # the counting section saw the two people of the first 300 frames
    assert "2 person folders (id_1, id_2)" in text


def test_unknown_section_is_refused():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--only", "nothing"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "unknown sections nothing" in proc.stderr


def test_re_measuring_some_sections_keeps_the_others():
    report = "# Benchmarks\n\n- command: x\n\n## Tracking speed\n\nold 1\n\n## Reliability\n\nold 2\n"
    updated = update_sections(report, ["## Reliability\n\nnew 2\n", "## Extra\n\nnew 3\n"], "- updated: now")
    assert updated == (
        "# Benchmarks\n\n- command: x\n- updated: now\n\n## Tracking speed\n\nold 1\n\n"
        "## Reliability\n\nnew 2\n\n## Extra\n\nnew 3\n"
    )
