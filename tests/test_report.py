"""The merge review page: its content for a known plan, and the script writing it."""

from __future__ import annotations

import base64
import shutil
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.reliability import build_merge_workdir, run_reid, warm_cache
from conftest import assert_clean_error, tree_hashes
from reid.matching.folders import Folder
from reid.matching.grouping import Appearance
from reid.matching.proposals import Comparison, NearMiss, ProposedGroup
from reid.matching.report import render, spread


class Page(HTMLParser):
    """What a reader of the page sees: group headings, folders and their images."""

    def __init__(self, text: str):
        super().__init__()
        self.headings: list[str] = []
        self.folders: list[tuple[str, int]] = []  # (name, images shown)
        self.images: list[str] = []
        self._in_h3 = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h3":
            self._in_h3 = True
            self.headings.append("")
        elif tag == "div" and "data-folder" in attrs:
            self.folders.append((attrs["data-folder"], 0))
        elif tag == "img":
            self.images.append(attrs["src"])
            name, shown = self.folders[-1]
            self.folders[-1] = (name, shown + 1)

    def handle_endtag(self, tag):
        if tag == "h3":
            self._in_h3 = False

    def handle_data(self, data):
        if self._in_h3:
            self.headings[-1] += data


def folder(name: str, crops: list[Path], vector: list[float], appearances=()) -> Folder:
    v = np.asarray(vector, np.float32)
    return Folder(name, crops[0].parent, crops, list(appearances), v / np.linalg.norm(v))


@pytest.fixture
def folders(labelled_crops):
    a = sorted((labelled_crops / "001").glob("*.png"))
    b = sorted((labelled_crops / "003").glob("*.png"))
    seen = [Appearance("r", "v.mp4", ((0, 10),))]
    return {
        "id_1": folder("id_1", a, [1, 0, 0]),
        "id_2": folder("id_2", a[:3], [1, 0.05, 0]),
        "id_3": folder("id_3", b, [0, 1, 0], seen),
        "id_4": folder("id_4", b[:2], [0, 1, 0.3], seen),
        "id_<5>": folder("id_<5>", b[:1], [0, 0, 1]),
    }


def test_one_row_per_group_with_contact_sheets_scores_and_near_misses(folders, tmp_path):
    f = folders
    proposals = [ProposedGroup(f["id_1"], [f["id_2"]], 0.9988, 0.9988)]
    misses = Comparison(list(f.values())).near_misses(proposals, threshold=0.99, margin=0.1, at_least=1)
    assert [(m.first.name, m.second.name, m.reason) for m in misses] == [
        ("id_3", "id_4", "seen at the same time in one video")
    ]
    # with nothing close to the threshold, the most similar pairs are still shown (where the threshold sits)
    anyway = Comparison(list(f.values())).near_misses([], threshold=0.999, margin=0.0, at_least=3)
    assert [(m.first.name, m.second.name, m.reason) for m in anyway[:1]] == [("id_1", "id_2", "under the threshold")]
    assert len(anyway) == 3 and [m.similarity for m in anyway] == sorted((m.similarity for m in anyway), reverse=True)
    text = render(
        proposals, misses, threshold=0.99, backbone="resnet50", persons_dir=tmp_path / "persons", folders_total=5
    )
    page = Page(text)
    assert page.headings[0].startswith("1. id_1 ← id_2 (similarity min 0.999, mean 0.999)")
    assert page.headings[1].startswith("id_3 and id_4 0.958 seen at the same time")
    # contact sheets: at most 6 crops of a group's folders, 4 of a near-miss's
    assert page.folders == [("id_1", 6), ("id_2", 3), ("id_3", 4), ("id_4", 2)]
    assert "16 crops" in text and "3 crops, 0.999 to id_1" in text and "threshold 0.990" in text
    for uri in page.images:  # every thumbnail is a real inline JPEG
        assert uri.startswith("data:image/jpeg;base64,")
        image = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[0] == 112
    assert "http" not in text.replace("http-equiv", "")  # nothing is fetched from anywhere


def test_names_are_escaped_and_unreadable_crops_are_said(folders, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    odd = Folder("id_<5>", tmp_path, [broken], [], folders["id_<5>"].embedding)
    text = render(
        [ProposedGroup(folders["id_1"], [odd], 0.991, 0.991)],
        [],
        threshold=0.99,
        backbone="b",
        persons_dir=tmp_path,
        folders_total=2,
    )
    assert "id_&lt;5&gt;" in text and "id_<5>" not in text
    assert "no readable crop" in text and "No other pair of folders to show" in text


def test_an_empty_plan_still_makes_a_page(folders, tmp_path):
    miss = NearMiss(folders["id_1"], folders["id_3"], 0.95, "under the threshold")
    page = Page(render([], [miss], threshold=0.97, backbone="b", persons_dir=tmp_path, folders_total=2))
    assert page.headings == ["id_1 and id_3 0.950 under the threshold"]


def test_spread_includes_both_ends():
    assert spread([1, 2], 6) == [1, 2]
    assert spread(list(range(7)), 3) == [0, 3, 6]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, labelled_crops, mobilenet_v2) -> Path:
    work = build_merge_workdir(labelled_crops, tmp_path_factory.mktemp("report") / "work")
    warm_cache(work, mobilenet_v2)
    return work


@pytest.mark.slow
def test_the_script_writes_the_page_with_a_dry_run_and_changes_nothing(workdir, mobilenet_v2):
    before = tree_hashes(workdir / "persons")
    proc = run_reid(workdir, mobilenet_v2, "--dry-run", "--report", "review page.html")
    assert proc.returncode == 0, proc.stderr
    assert "Review page: file://" in proc.stdout
    page = Page((workdir / "review page.html").read_text(encoding="utf-8"))
    # the two groups (as --review-each asks them: the same size, so the less certain first), then the
    # near-misses, most similar first (pairs within 0.05 under the threshold follow)
    assert [h.split(" (")[0] for h in page.headings][:3] == [
        "1. id_3 ← id_4",
        "2. id_1 ← id_2",
        "id_5 and id_6 0.725 seen at the same time in one video",  # copies: 8 views, each pair of crops
    ]
    assert tree_hashes(workdir / "persons") == before
    assert (workdir / "review page.html").stat().st_mode & 0o044  # others may read it, as with any file


@pytest.mark.slow
def test_a_report_that_cannot_be_written(workdir, mobilenet_v2, tmp_path):
    work = shutil.copytree(workdir, tmp_path / "w", copy_function=shutil.copy2)
    proc = run_reid(work, mobilenet_v2, "--yes", "--report", "no/such/folder/review.html")
    assert_clean_error(proc, 1, "cannot write the report no/such/folder/review.html")
    assert not (work / "persons" / "backup_before_merge").exists()  # stopped before the merge


def test_report_with_undo_is_refused(tmp_path):
    from conftest import run_script

    assert_clean_error(
        run_script("deeplearningg_reID.py", "--undo", "--report", "r.html", cwd=tmp_path),
        2,
        "cannot be used with --undo",
    )
