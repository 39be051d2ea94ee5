"""The dashboard at GET / in a real headless browser (Debian's chromium, driven by selenium)
against a live health_check.py, and the thumbnail route that serves crops from the persons
folder only."""

from __future__ import annotations

import http.client
import json
import os
import shutil
from pathlib import Path

import pytest

from benchmarks.reliability import start_monitor, stop_monitor
from conftest import DATA_DIR, REPO, _require, run_script, unavailable
from reid.core.status import StatusFile
from reid.monitor.thumbnails import choose_crop

CHROMIUM = Path(os.environ.get("REID_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("REID_CHROMEDRIVER", "/usr/bin/chromedriver"))


@pytest.fixture
def monitor(tmp_path, labelled_crops):
    persons = tmp_path / "persons"
    for n, identity in ((1, "001"), (2, "003"), (3, "007")):
        folder = persons / f"id_{n}"
        folder.mkdir(parents=True)
        for crop in sorted((labelled_crops / identity).glob("01_*.png"))[:3]:
            shutil.copy(crop, folder / crop.name)
    (tmp_path / "outside").mkdir()
    shutil.copy(next((labelled_crops / "011").glob("*.png")), tmp_path / "outside" / "secret.png")
    (persons / "id_4").mkdir()
    os.symlink(tmp_path / "outside" / "secret.png", persons / "id_4" / "a.png")  # a link out: never served
    os.symlink(tmp_path / "outside", persons / "id_5")  # a folder that is a link: not a person folder
    status = StatusFile(tmp_path / "status.json")
    status.update_section(
        "counting",
        {
            "state": "running",
            "frames_done": 100,
            "frames_total": 1000,
            "fps": 30.0,
            "persons": 2,
            "current_video": "videos/hall.mp4",
            "errors": [
                {"time": "2026-12-05T14:15:01.240Z", "path": "videos/bad.mp4", "message": "truncated"},
                {
                    "time": "2026-12-05T14:15:02.240Z",
                    "path": "videos/fake.mp4",
                    "message": "videos/fake.mp4 cannot be read",
                },
            ],
        },
    )
    process, port = start_monitor(tmp_path)
    yield tmp_path, port, status
    assert stop_monitor(process) == 0


def fetch(port: int, path: str) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_the_page_is_served_with_a_strict_content_policy(monitor):
    _, port, _ = monitor
    status, headers, body = fetch(port, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert b"/health/processing" in body and b"http://" not in body and b"https://" not in body


def test_thumbnails_come_from_person_folders_only(monitor, labelled_crops):
    work, port, _ = monitor
    listing = json.loads(fetch(port, "/health/persons")[2])
    thumbs = {p["name"]: p["thumbnail"] for p in listing["persons"]}
    assert thumbs == {
        "id_1": "/persons/id_1/thumbnail",
        "id_2": "/persons/id_2/thumbnail",
        "id_3": "/persons/id_3/thumbnail",
        "id_4": None,
    }
    status, headers, body = fetch(port, "/persons/id_1/thumbnail")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert body == (work / "persons" / "id_1" / choose_crop(work / "persons" / "id_1")).read_bytes()  # the sharpest
    secret = (work / "outside" / "secret.png").read_bytes()
    for path in (
        "/persons/id_4/thumbnail",
        "/persons/id_5/thumbnail",
        "/persons/..%2Foutside/thumbnail",
        "/persons/../outside/thumbnail",
        "/persons/%2E%2E/thumbnail",
        "/persons/id_9/thumbnail",
        "/persons/backup_before_merge/thumbnail",
    ):
        status, _, body = fetch(port, path)
        assert status == 404, path
        assert secret not in body and json.loads(body)["status"] == "fail"


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        unavailable(f"{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1200,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(driver, condition, what: str, timeout: float = 120):
    """Until ``condition`` holds in the page; ``timeout`` is a hang guard (the page polls every few seconds)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d), message=what)


def test_the_dashboard_follows_status_json_live(monitor, browser, tmp_path):
    work, port, status = monitor
    browser.get(f"http://127.0.0.1:{port}/")
    by_id = lambda d, name: d.find_element("id", name)  # noqa: E731
    wait_for(browser, lambda d: by_id(d, "counting-percent").text == "10.0%", "the first progress")
    assert by_id(browser, "overall").text == "pass"
    assert "30.0 fps" in by_id(browser, "counting-detail").text
    assert "videos/bad.mp4 · truncated" in by_id(browser, "errors").text
    rows = [row.text for row in browser.find_elements("css selector", "#errors li")]
    # newest first; the path once, also where the message names it
    assert (rows[0].count("videos/fake.mp4"), rows[1].count("videos/bad.mp4")) == (1, 1), rows
    times = browser.find_elements("css selector", "#errors li span")
    assert times[0].get_attribute("title") == "2026-12-05T14:15:02.240Z (UTC)"
    assert "2026-12-05T" not in rows[0]  # one time on the row: the local one, the UTC in its tooltip
    last = "#last-update span"
    wait_for(browser, lambda d: "UTC" in d.find_element("css selector", last).get_attribute("title"), "a tooltip")
    assert "Z" not in by_id(browser, "last-update").text
    assert by_id(browser, "folders-total").text == "4" and by_id(browser, "persons-dir").text.endswith("persons")
    assert "2 persons" in by_id(browser, "counting-detail").text
    assert by_id(browser, "processing-detail").text == "not run yet"  # idle, not "0.0% · merging · – / –"
    assert by_id(browser, "processing-percent").text == ""
    # thumbnails really loaded (from the persons folder), the folder without a crop has none
    wait_for(
        browser,
        lambda d: (
            d.execute_script(
                "return [...document.querySelectorAll('#persons img')].filter(i => i.complete && i.naturalWidth > 0)"
                ".length"
            )
            == 3
        ),
        "three thumbnails",
    )
    first_bar = browser.execute_script("return document.getElementById('counting-bar').style.width")
    assert first_bar == "10%"

    status.update_section("counting", {"frames_done": 750, "persons": 1})
    status.update_section(
        "processing", {"state": "running", "operation": "extracting features", "done": 30, "total": 120}
    )
    wait_for(browser, lambda d: by_id(d, "counting-percent").text == "75.0%", "the progress to change")
    wait_for(browser, lambda d: by_id(d, "processing-percent").text == "25.0%", "the re-ID progress")
    assert browser.execute_script("return document.getElementById('counting-bar').style.width") == "75%"
    assert "extracting features" in by_id(browser, "processing-detail").text
    assert "1 person ·" in by_id(browser, "counting-detail").text + " ·"  # not "1 persons"
    browser.save_screenshot(str(tmp_path / "dashboard.png"))
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000

    status.update_section("counting", {"state": "failed", "error": "disk full"})
    wait_for(browser, lambda d: by_id(d, "overall").text == "fail", "the failure to show")
    assert "disk full" in by_id(browser, "overall-output").text
    (work / "status.json").write_text("{ broken")
    wait_for(browser, lambda d: "not valid JSON" in by_id(d, "overall-output").text, "a malformed status")


# The README's pictures: REID_SCREENSHOTS=docs/images writes them there (docs/images/README.md says how).
SCREENSHOTS = os.environ.get("REID_SCREENSHOTS")
INTEL_0287 = "weights/intel/person-reidentification-retail-0287/FP32/person-reidentification-retail-0287.xml"


@pytest.mark.slow
def test_the_pictures_of_the_readme_come_from_a_real_run_on_the_example_clip(browser, detector, tmp_path):
    """The bundled example clip tracked into a folder per visit (the woman's two, the man's one); the
    merge's review page proposes to join the woman's, and the dashboard shows the run. Both are photographed."""
    model = _require(DATA_DIR / INTEL_0287)
    tracked = run_script(
        "obj_counting.py", "--videos", REPO / "examples" / "sample.mp4", "--model", detector, cwd=tmp_path
    )
    assert tracked.returncode == 0, tracked.stderr
    assert sorted(p.name for p in (tmp_path / "persons").glob("id_*")) == ["id_1", "id_2", "id_3"]
    args = ["--backbone", "reid-0287", "--weights", model, "--dry-run", "--report", "review.html"]
    planned = run_script("deeplearningg_reID.py", *args, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "id_3 (14 crops)  <-  id_1 (11 crops)" in planned.stdout

    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1000, 760)
    browser.get((tmp_path / "review.html").as_uri())
    wait_for(browser, lambda d: d.execute_script("return document.readyState") == "complete", "the review page")
    text = browser.find_element("tag name", "body").text
    assert "id_1" in text and "id_3" in text
    browser.save_screenshot(str(shots / "review.png"))

    process, port = start_monitor(tmp_path)
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        by_id = lambda d, name: d.find_element("id", name)  # noqa: E731
        wait_for(browser, lambda d: by_id(d, "folders-total").text == "3", "the three folders")
        full = "return ['counting-bar', 'processing-bar'].map(b => document.getElementById(b))" + (
            ".every(b => b.getBoundingClientRect().width >= b.parentElement.getBoundingClientRect().width - 1)"
        )
        wait_for(browser, lambda d: d.execute_script(full), "both bars full (they grow for 0.4 s)")
        assert "ETA" not in by_id(browser, "counting-detail").text  # done: nothing left to wait for
        wait_for(
            browser,
            lambda d: d.execute_script(
                "return [...document.querySelectorAll('#persons img')].every(i => i.complete && i.naturalWidth > 0)"
            ),
            "the thumbnails",
        )
        browser.save_screenshot(str(shots / "dashboard.png"))
    finally:
        assert stop_monitor(process) == 0
    for name in ("review.png", "dashboard.png"):
        assert 10_000 < (shots / name).stat().st_size < 400_000  # a real page, small enough to commit


def shown_thumbnails(driver) -> list[str]:
    """The folders whose thumbnail the page shows, loaded."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#persons img')].filter(i => i.complete && i.naturalWidth > 0)"
        ".map(i => i.alt)"
    )


@pytest.mark.slow
def test_two_persons_folders_served_one_after_the_other_each_show_only_their_own(
    browser, detector, labelled_crops, tmp_path
):
    """One working folder, one status.json, two persons folders: tracking of a video that cannot be read
    into persons/ (every video failed), a merge dry run of other/persons with a re-ID network. The
    monitor serving each folder shows that folder's stages and thumbnails, the other's stages greyed
    and named, and the failed run red with a bar that says so."""
    model = _require(DATA_DIR / INTEL_0287)
    work = tmp_path
    for folder, people in (("persons", {1: "001", 2: "003"}), ("other/persons", {11: "007", 12: "007", 13: "011"})):
        for number, identity in people.items():
            target = work / folder / f"id_{number}"
            target.mkdir(parents=True)
            camera = "01" if number != 12 else "02"
            for crop in sorted((labelled_crops / identity).glob(f"{camera}_*.png"))[:4]:
                shutil.copy(crop, target / crop.name)
    (work / "videos").mkdir()
    (work / "videos" / "fake.mp4").write_bytes(b"not a video at all" * 100)
    tracked = run_script("obj_counting.py", "--videos", "videos/fake.mp4", "--model", detector, cwd=work)
    assert tracked.returncode == 1 and "Traceback" not in tracked.stderr, tracked.stderr
    args = ["--persons", "other/persons", "--backbone", "reid-0287", "--weights", model, "--dry-run"]
    planned = run_script("deeplearningg_reID.py", *args, cwd=work)
    assert planned.returncode == 0, planned.stderr
    by_id = lambda d, name: d.find_element("id", name)  # noqa: E731

    process, port = start_monitor(work)  # serving persons/: its tracking failed
    try:
        code, _, body = fetch(port, "/health")
        assert code == 503 and json.loads(body)["output"].startswith("counting failed: no video was processed")
        browser.get(f"http://127.0.0.1:{port}/")
        wait_for(browser, lambda d: by_id(d, "overall").text == "fail", "the failed run")
        wait_for(browser, lambda d: sorted(shown_thumbnails(d)) == ["id_1", "id_2"], "this folder's thumbnails")
        assert by_id(browser, "persons-dir").text == "persons" and by_id(browser, "folders-total").text == "2"
        counting = by_id(browser, "stage-counting")
        assert "failed" in counting.get_attribute("class").split()
        assert by_id(browser, "counting-percent").text == "failed"
        assert "no video was processed (1 failed)" in by_id(browser, "counting-detail").text
        bar = "return getComputedStyle(document.getElementById('counting-bar')).backgroundColor"
        assert browser.execute_script(bar) == "rgb(192, 57, 43)"  # red, not the green of a finished run
        wait_for(  # full width: it grows for 0.4 s
            browser,
            lambda d: d.execute_script(
                "const b = document.getElementById('counting-bar');"
                "return b.getBoundingClientRect().width >= b.parentElement.getBoundingClientRect().width - 1"
            ),
            "a full red bar",
        )
        assert "videos/fake.mp4" in by_id(browser, "errors").text
        for name, detail in (("processing", "processing-detail"), ("reid", "reid-detail")):
            card = by_id(browser, f"stage-{name}")
            assert "elsewhere" in card.get_attribute("class").split()
            assert card.find_element("class name", "state").text == "other folder"
            assert "other/persons" in by_id(browser, detail).text and "not counted here" in by_id(browser, detail).text
        assert "folders before" not in by_id(browser, "reid-detail").text  # none of the other folder's numbers
        browser.save_screenshot(str(tmp_path / "failed-run.png"))
    finally:
        assert stop_monitor(process) == 0

    process, port = start_monitor(work, persons=work / "other" / "persons")  # the merged folder
    try:
        code, _, body = fetch(port, "/health")
        assert code == 200 and json.loads(body)["stages"]["counting"] == "elsewhere"
        browser.get(f"http://127.0.0.1:{port}/")
        wait_for(browser, lambda d: sorted(shown_thumbnails(d)) == ["id_11", "id_12", "id_13"], "its thumbnails")
        wait_for(browser, lambda d: by_id(d, "overall").text == "pass", "its own verdict")
        assert by_id(browser, "persons-dir").text == "other/persons"
        assert "elsewhere" in by_id(browser, "stage-counting").get_attribute("class").split()
        assert (
            "persons" in by_id(browser, "counting-detail").text
            and "not counted here" in by_id(browser, "counting-detail").text
        )
        assert "folders before: 3" in by_id(browser, "reid-detail").text
        assert "run " in by_id(browser, "reid-whose").text and "other/persons" in by_id(browser, "reid-whose").text
        assert by_id(browser, "error-count").text == "0"  # the failed tracking's errors are not this folder's
        browser.save_screenshot(str(tmp_path / "other-folder.png"))
    finally:
        assert stop_monitor(process) == 0
