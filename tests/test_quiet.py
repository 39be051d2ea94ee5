"""Quiet by default: no third-party start-up lines and no step-by-step log without -v (progress,
warnings and the summary only), log lines kept out of the progress bars.

Real runs of the scripts: a merge dry run on real crops with the real MobileNetV2 weights, and
tracking of the bundled example clip with the real detector on a pseudo-terminal.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, run_in_terminal, run_script, visible_lines

NATIVE_NOISE = re.compile(r"cuInit|absl|cudart_stub|^[IWE]\d{4} |XNNPACK", re.MULTILINE)
EXAMPLE = REPO / "examples" / "sample.mp4"


@pytest.fixture
def two_folders(tmp_path, labelled_crops):
    for number, pid in ((1, "001"), (2, "003")):
        folder = tmp_path / "persons" / f"id_{number}"
        folder.mkdir(parents=True)
        for image in sorted((labelled_crops / pid).glob("01_*.png"))[:4]:
            shutil.copy2(image, folder / image.name)
    return tmp_path


def dry_run(work, weights, *flags):
    return run_script(
        "deeplearningg_reID.py", "--dry-run", "--backbone", "mobilenetv2", "--weights", weights, *flags, cwd=work
    )


@pytest.mark.slow
def test_a_merge_dry_run_prints_no_tensorflow_start_up_lines(two_folders, mobilenet_v2):
    proc = dry_run(two_folders, mobilenet_v2)
    assert proc.returncode == 0, proc.stderr
    assert not NATIVE_NOISE.search(proc.stderr), proc.stderr
    assert "embedded 8 images" not in proc.stderr and not re.search(r"^\d\d:\d\d:\d\d ", proc.stderr, re.M)
    assert "Features: mobilenetv2" in proc.stdout  # the plan, as always


@pytest.mark.slow
def test_quiet_keeps_errors_and_the_plan(two_folders, mobilenet_v2):
    proc = dry_run(two_folders, mobilenet_v2, "-q")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "Features: mobilenetv2" in proc.stdout and "nothing to merge" in proc.stdout


@pytest.mark.slow
def test_verbose_shows_them(two_folders, mobilenet_v2):
    proc = dry_run(two_folders, mobilenet_v2, "--verbose")
    assert proc.returncode == 0, proc.stderr
    assert NATIVE_NOISE.search(proc.stderr), proc.stderr
    assert re.search(r"^\d\d:\d\d:\d\d INFO reid.matching.run: embedded 8 images", proc.stderr, re.M), proc.stderr


@pytest.mark.slow
def test_tracking_on_a_terminal_draws_one_bar_and_the_summary_without_log_lines(tmp_path, detector):
    code, output = run_in_terminal("obj_counting.py", "--videos", EXAMPLE, "--model", detector, cwd=tmp_path)
    assert code == 0, output
    lines = visible_lines(output)
    assert not [line for line in lines if NATIVE_NOISE.search(line)], lines
    bars = [line for line in lines if "frame/s" in line]
    assert len(bars) == 1 and "100%|" in bars[0], lines  # one bar, left once at 100%
    assert bars[0].startswith("100%|"), bars[0]  # no log line written into it
    # progress and the summary; the steps (loading the detector, each video) only with -v
    assert not [line for line in lines if " INFO " in line or re.match(r"\d\d:\d\d:\d\d ", line)], lines
    assert any(line.startswith("Total: ") for line in lines), lines


def test_noise_filter_keeps_everything_else():
    from reid.core.quiet import is_noise

    assert is_noise("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    assert is_noise(
        "E0000 00:00:1796477826.230558    9030 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
    )
    assert not is_noise("12:00:01 WARNING reid.matching.keras_backend: RANDOM WEIGHTS\n")
    assert not is_noise("Error: disk full\n")


def test_native_lines_are_held_back_and_the_rest_passed_on(tmp_path):
    code = (
        "import logging, os\n"
        "from reid.core.quiet import native_noise_held_back\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "with native_noise_held_back():\n"
        "    os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
        "    os.write(2, b'something else\\n')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "something else\n", proc.stderr
