"""The benchmark quick mode runs end to end on small inputs, so the benchmarks cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.backbones import folder_rank1
from benchmarks.ceiling import unfound
from benchmarks.common import cpu_flags
from benchmarks.run import update_sections
from conftest import REPO

# benchmarks.run --quick took 20 minutes on 2 busy cores: the guard is against a hang, not a slow machine
HANG_GUARD_S = 3600
SECTIONS = [
    "Tracking speed",
    "The detector's ceiling and still-frame skipping",
    "Many videos at once",
    "Feature extraction speed",
    "OpenVINO re-ID backbones",
    "Grouping time and memory",
    "Embedding cache",
    "Peak memory",
    "Re-identification accuracy",
    "Counting on the sample video",
    "Counting against ground truth",
    "Reliability",
]


@pytest.mark.slow
def test_quick_mode_writes_every_section_with_figures(tmp_path, video, detector, mobilenet_v2, labelled_crops):
    report = tmp_path / "BENCHMARKS.md"
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.run",
                "--quick",
                "--output",
                str(report),
                "--data",
                str(video.parents[1]),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang guard: benchmarks.run --quick was still running after {HANG_GUARD_S} s and was killed")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = report.read_text()
    assert "FAILED" not in text
    assert "- command: `python -m benchmarks.run --quick`" in text and "- machine: " in text
    assert "- CPU flags: " in text and "- GPU: " in text
    for title in SECTIONS:
        assert f"## {title}" in text
    # every target line carries a measured number and a verdict
    targets = re.findall(r"^- (met|\*\*not met\*\*): (.+) = ([\d.]+) \(target (.+)\)$", text, flags=re.MULTILINE)
    assert len(targets) >= 12
    # (a count bounded above, such as folders mixing people, may well be 0)
    bounded = ("= 0", "<=")
    assert all(
        float(value) > 0 for _, name, value, goal in targets if not goal.startswith(bounded) and "pure" not in name
    )
    # reliability: nothing failed, nothing lost, under load and under kills
    reliability = ("failed + invalid monitor answers", "kill rounds")
    found = [(verdict, float(value), goal) for verdict, name, value, goal in targets if name.startswith(reliability)]
    assert found == [("met", 0.0, "= 0")] * 2
    # workers and Ray made the very folders of the serial run
    same = [verdict for verdict, name, _, _ in targets if "same folders" in name]
    assert same == ["met", "met"]
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


def test_cpu_flags_name_the_vector_extensions():
    assert cpu_flags("processor : 0\nflags : fpu avx512vl avx2 avx512f sse2\n") == "avx2, avx512f, avx512vl"
    assert cpu_flags("flags : fpu avx sse2") == "no avx2, no avx512"


def test_a_person_is_found_by_overlapping_boxes_of_any_person_of_the_other_run():
    full = {1: {f: (0, 0, 10, 20) for f in range(1, 11)}, 2: {1: (50, 50, 60, 70)}}
    # the gated run broke person 1 in two tracks and has a person of its own (3)
    gated = {
        5: {f: (0, 0, 10, 20) for f in range(1, 6)},
        6: {f: (1, 0, 11, 20) for f in range(6, 11)},
        3: {1: (90, 90, 99, 99)},
    }
    assert unfound(full, gated) == [2]
    assert unfound(gated, full) == [3]
    # found in under half of its frames is lost
    assert unfound(full, {5: {f: (0, 0, 10, 20) for f in range(1, 5)}}) == [1, 2]


def test_folder_rank1_compares_folder_means_across_cameras():
    embeddings = np.array([[1, 0], [0.8, 0.6], [0, 1], [0.9, 0.1], [0.1, 0.9]], np.float32)
    identities, cameras = ["a", "a", "b", "a", "b"], ["01", "01", "01", "02", "02"]
    assert folder_rank1(embeddings, identities, cameras) == 1.0
    assert folder_rank1(embeddings, ["a", "a", "b", "b", "a"], cameras) == 0.0
