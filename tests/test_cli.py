"""What users meet at the scripts' edge: misspelt and abbreviated flags, errors naming the flag,
singular and plural in summaries, a hint for weights of another network, the monitor's addresses."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, assert_clean_error, run_script
from reid.tracking.progress import RunResult, VideoResult
from reid.tracking.stage import format_summary


@pytest.mark.parametrize(
    "script, typo, meant",
    [
        ("obj_counting.py", "--max-framse", "--max-frames"),
        ("obj_counting.py", "--max-frame", "--max-frames"),  # an abbreviation is a typo, not accepted
        ("deeplearningg_reID.py", "--dryrun", "--dry-run"),
        ("deeplearningg_reID.py", "--thresold", "--threshold"),
        ("health_check.py", "--prot", "--port"),
    ],
)
def test_a_misspelt_flag_is_one_line_with_a_suggestion(tmp_path, script, typo, meant):
    proc = run_script(script, typo, "3", cwd=tmp_path)
    assert_clean_error(proc, 2, f"did you mean {meant}?")
    assert proc.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "script, args, fragment",
    [
        ("obj_counting.py", ["--conf", "3"], "--conf must be between 0 and 1"),
        ("deeplearningg_reID.py", ["--threshold", "2"], "--threshold must be between -1 and 1"),
    ],
)
def test_a_rejected_value_names_its_flag(tmp_path, script, args, fragment):
    assert_clean_error(run_script(script, *args, cwd=tmp_path), 2, fragment)


def test_summaries_say_1_person_1_frame_and_2_persons():
    one = VideoResult(Path("a.mp4"), state="done", persons=1, tracks=1, frames=1, person_ids=[1])
    two = VideoResult(Path("b.mp4"), state="done", persons=2, tracks=2, frames=2, person_ids=[2, 3])
    text = format_summary(RunResult("run", [one, two], seconds=1.0), Path("persons"))
    assert "a.mp4  1 person in 1 frame  (id_1)" in text
    assert "b.mp4  2 persons in 2 frames  (id_2, id_3)" in text
    assert "Total: 3 persons (3 tracks seen) in 2 of 2 videos (3 frames in 1.0 s" in text
    only = format_summary(RunResult("run", [one], seconds=1.0), Path("persons"))
    assert "Total: 1 person (1 track seen) in 1 of 1 video (1 frame in 1.0 s" in only


@pytest.fixture
def two_folders(tmp_path, labelled_crops):
    for number, pid in ((1, "001"), (2, "003")):
        folder = tmp_path / "persons" / f"id_{number}"
        folder.mkdir(parents=True)
        for image in sorted((labelled_crops / pid).glob("01_*.png"))[:4]:
            shutil.copy2(image, folder / image.name)
    return tmp_path


@pytest.mark.slow
def test_mobilenetv2_weights_without_their_backbone_name_the_flag(two_folders, mobilenet_v2):
    proc = run_script("deeplearningg_reID.py", "--dry-run", "--weights", mobilenet_v2, cwd=two_folders)
    assert_clean_error(proc, 1, "into resnet50: Layer count mismatch")
    assert "the file holds mobilenetv2 weights: pass --backbone mobilenetv2" in proc.stderr


@pytest.mark.slow
def test_a_dry_run_page_says_nothing_is_merged_at_all(two_folders, mobilenet_v2):
    flags = ["--dry-run", "--backbone", "mobilenetv2", "--weights", mobilenet_v2, "--report", "page.html"]
    proc = run_script("deeplearningg_reID.py", *flags, cwd=two_folders)
    assert proc.returncode == 0, proc.stderr
    page = (two_folders / "page.html").read_text(encoding="utf-8")
    assert "A dry run: nothing is merged" in page and "until you answer y" not in page
    assert "until you answer y" not in proc.stdout


def test_the_monitor_names_its_dashboard_and_its_json(tmp_path):
    process = subprocess.Popen(
        [sys.executable, str(REPO / "health_check.py"), "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert re.search(r"dashboard http://127\.0\.0\.1:\d+/ ", line), line
    assert re.search(r"http://127\.0\.0\.1:\d+/health\b", line), line


LOGGING = (
    "import logging, sys\n"
    "from reid.core.cli import setup_logging\n"
    "setup_logging(verbose='-v' in sys.argv, quiet='-q' in sys.argv)\n"
    "log = logging.getLogger('reid.matching.run')\n"
    "log.debug('a detail'); log.info('embedded 8 images'); log.warning('id_3/x.jpg unreadable'); log.error('gone')\n"
)


@pytest.mark.parametrize(
    "flag, expected",
    [
        ("", ["WARNING: id_3/x.jpg unreadable", "ERROR: gone"]),  # the terminal: warnings, no step-by-step log
        ("-q", ["ERROR: gone"]),
        ("-v", ["DEBUG reid.matching.run: a detail", "INFO reid.matching.run: embedded 8 images", "WARNING", "ERROR"]),
    ],
)
def test_logging_shows_steps_only_when_asked(flag, expected):
    proc = subprocess.run(
        [sys.executable, "-c", LOGGING, flag], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    lines = proc.stderr.splitlines()
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        if flag == "-v":  # timed, with the logger's name
            assert re.match(rf"\d\d:\d\d:\d\d {re.escape(start)}", line), line
        else:
            assert line == start


def test_the_review_page_alone_goes_beside_the_folders_and_is_never_committed():
    from reid.matching.options import parse_args

    assert parse_args(["--report"]).report == Path("persons/review.html")
    assert parse_args(["--persons", "other/persons", "--report"]).report == Path("other/persons/review.html")
    assert parse_args(["--report", "review.html"]).report == Path("review.html")  # a name given is kept
    assert parse_args([]).report is None
    ignored = subprocess.run(
        ["git", "check-ignore", "review.html", "review-2.html", "docs/review.html"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["review.html", "review-2.html", "docs/review.html"]
