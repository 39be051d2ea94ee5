"""deeplearningg_reID.py --review-server on real crops with the re-ID network: the review page answered
in a real headless browser (Debian's chromium, driven by selenium) carries out exactly what was approved,
and the answers are kept; over plain HTTP, every request needs the run's token, nothing from the browser
is trusted, the plan is carried out once, and never while tracking holds the persons folder."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from test_dashboard import browser, wait_for  # noqa: F401 (a fixture)
from test_matching_run import reid_0287, track_of  # noqa: F401 (a fixture)

from conftest import REPO, run_script, tree_hashes
from reid.core.lease import Lease

PAIRS = {"id_1": "id_11", "id_3": "id_13", "id_4": "id_14"}  # each second folder repeats the first's crops
TRIO = ("id_6", "id_16", "id_26")  # three copies of one person's crops


@pytest.fixture
def workdir(tmp_path, labelled_crops):
    """Four certain groups (folders that repeat each other's crops later in the video), and id_8 alone."""
    persons = tmp_path / "persons"
    first = iter(range(0, 100_000, 400))  # one after the other: never seen together

    def folder(name: str, person: str) -> None:
        (persons / name).mkdir(parents=True)
        start, files = next(first), []
        for k, crop in enumerate(sorted((labelled_crops / person).glob("01_*.png"))[:4]):
            files.append(f"hall_f{start + 10 * k:06d}.png")
            shutil.copy2(crop, persons / name / files[-1])
        (persons / name / "track.json").write_text(json.dumps(track_of(int(name[3:]), files, start)))

    for (one, other), person in zip(PAIRS.items(), ("022", "003", "008"), strict=True):
        folder(one, person)
        folder(other, person)
    for name in TRIO:
        folder(name, "011")
    folder("id_8", "019")
    return tmp_path


class Server:
    """The script serving its review page on a free loopback port, as a user starts it."""

    def __init__(self, workdir: Path, model: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, str(REPO / "deeplearningg_reID.py"), "--backbone", "reid-0287", "--weights"]
        self.process = subprocess.Popen(
            [*command, str(model), "--no-progress", "--review-server", "--port", "0", *extra],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        found = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                self.lines.append(line)
                if "Review the plan at" in line:
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        assert found.wait(600), "hang guard: no address after 600 s"
        match = re.search(r"Review the plan at (http://[^:]+:(\d+)/\?token=(\S+)) \(Ctrl-C", "".join(self.lines))
        assert match, "".join(self.lines) + self.process.stderr.read()
        self.url, self.port, self.token = match.group(1), int(match.group(2)), match.group(3)

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            data = urlencode(body or {}, doseq=True)
            headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
            connection.request(method, path, body=data if method == "POST" else None, headers=headers)
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def page_groups(self) -> dict[tuple[str, ...], int]:
        """Each group on the page by its folders' names: its number."""
        status, page = self.request("GET", f"/?token={self.token}")
        assert status == 200, page
        groups = {}
        for number, block in re.findall(r'id="group-(\d+)"(.*?)(?=id="group-\d+"|<h2>Near-misses)', page, re.S):
            groups[tuple(sorted(re.findall(r'data-folder="([^"]+)"', block)))] = int(number)
        return groups

    def finish(self, timeout: float = 120) -> subprocess.CompletedProcess:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail("hang guard: the server did not stop")
        return subprocess.CompletedProcess(
            self.process.args, self.process.returncode, "".join(self.lines), self.process.stderr.read()
        )

    def stop(self) -> subprocess.CompletedProcess:
        self.process.send_signal(signal.SIGINT)
        return self.finish()


def folders(persons: Path) -> dict[str, str]:
    return {k: v for k, v in tree_hashes(persons).items() if k.startswith("id_")}


def crops(persons: Path) -> dict[str, list[str]]:
    return {p.name: sorted(c.name for c in p.glob("*.png")) for p in sorted(persons.glob("id_*"))}


def listening_addresses(port: int) -> list[str]:
    """The local addresses a socket listening on ``port`` is bound to (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


def one_holds_both(after: dict, before: dict, first: str, second: str) -> None:
    """``first`` and ``second`` merged: one of them is gone, the other holds both folders' crops."""
    kept = [name for name in (first, second) if name in after]
    assert len(kept) == 1, (first, second, sorted(after))
    assert after[kept[0]] == sorted(before[first] + before[second])


def proposed_groups(plan: str) -> list[set[str]]:
    """The groups a printed plan proposes, as sets of folder names."""
    return [set(re.findall(r"id_\d+", line)) for line in re.findall(r"^  \d+\. (.*)$", plan, re.M)]


@pytest.mark.slow
def test_the_page_answered_in_a_browser_carries_out_exactly_what_was_approved(
    workdir,
    reid_0287,  # noqa: F811
    browser,  # noqa: F811
):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    persons = workdir / "persons"
    before, crops_before = folders(persons), crops(persons)
    server = Server(workdir, reid_0287)
    try:
        browser.get(server.url)

        def group(*names: str):
            held = " and ".join(f".//div[@data-folder='{name}']" for name in names)
            return browser.find_element(By.XPATH, f"//div[@class='group' and {held}]")

        def choice(block, value: str):
            return block.find_element(By.CSS_SELECTOR, f"input[name^='group-'][value='{value}']")

        headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "div.group h3")]
        assert headings[0].startswith("1. ") and all(name in headings[0] for name in ("id_16", "id_26"))  # most first
        choice(group("id_1", "id_11"), "yes").click()
        choice(group("id_3", "id_13"), "yes").send_keys(Keys.SPACE)  # the keyboard alone does as well
        choice(group("id_4", "id_14"), "no").click()
        trio = group(*TRIO)
        choice(trio, "yes").click()
        trio.find_element(By.CSS_SELECTOR, "input[type=checkbox][value='id_26']").send_keys(Keys.SPACE)
        browser.find_element(By.ID, "apply").send_keys(Keys.ENTER)

        def carried_out(driver) -> bool:
            try:
                return driver.find_element(By.TAG_NAME, "h1").text == "Carried out"
            except StaleElementReferenceException:  # the page went while it was read
                return False

        wait_for(browser, carried_out, "the result page")
        shown = browser.find_element(By.TAG_NAME, "body").text
    except BaseException:
        server.process.kill()
        raise
    proc = server.finish()
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Accepted 3 of 4 proposals in the browser." in proc.stdout
    assert "Merged 3 groups: 10 -> 7 person folders, 12 files moved." in proc.stdout
    assert "Folders before: " in shown and "Folders after: " in shown and "Undo with: " in shown
    assert "Merged 3 groups" in shown  # what the terminal said, on the page too

    after = crops(persons)
    one_holds_both(after, crops_before, "id_1", "id_11")
    one_holds_both(after, crops_before, "id_3", "id_13")
    one_holds_both(after, crops_before, "id_6", "id_16")
    for untouched in ("id_4", "id_14", "id_26", "id_8"):
        assert after[untouched] == crops_before[untouched], untouched

    undone = run_script("deeplearningg_reID.py", "--undo", cwd=workdir)
    assert undone.returncode == 0, undone.stderr
    assert folders(persons) == before  # every byte back

    # the refused pair and the folder left out stay apart in the next plan; the rest is proposed again
    again = run_script(
        "deeplearningg_reID.py", "--backbone", "reid-0287", "--weights", reid_0287, "--dry-run", cwd=workdir
    )
    assert again.returncode == 0, again.stderr
    earlier = "Your earlier answers (persons/.answers.json): 2 pairs kept apart, 3 pairs said to be one person."
    assert earlier in again.stdout
    groups = proposed_groups(again.stdout)
    assert {"id_1", "id_11"} in groups and {"id_3", "id_13"} in groups and {"id_6", "id_16"} in groups
    assert not any({"id_4", "id_14"} <= g or ("id_26" in g and len(g & {"id_6", "id_16"})) for g in groups)


@pytest.mark.slow
def test_every_answer_needs_the_token_and_must_answer_this_plan_once(workdir, reid_0287):  # noqa: F811
    persons = workdir / "persons"
    before, crops_before = folders(persons), crops(persons)
    server = Server(workdir, reid_0287)
    try:
        assert listening_addresses(server.port) == ["0100007F"]  # 127.0.0.1 only
        groups = server.page_groups()
        number = groups[("id_1", "id_11")]
        yes = {f"group-{number}": "yes"}
        assert server.request("GET", "/")[0] == 403
        assert server.request("GET", "/?token=wrong")[0] == 403
        assert server.request("POST", "/apply", yes)[0] == 403
        assert server.request("POST", "/apply", {**yes, "token": server.token[:-1]})[0] == 403
        assert server.request("POST", "/apply", yes, headers={"X-Review-Token": "wrong"})[0] == 403
        for wrong in (
            {"group-99": "yes"},
            {"group-0": "yes"},
            {"split-1": "yes"},  # this plan has no split
            {f"leave-{number}": "id_8"},  # not a folder of that group
            {f"leave-{number}": "../id_1"},
            {f"group-{number}": "maybe"},
            {"folder": "id_1"},
        ):
            status, page = server.request("POST", "/apply", {**wrong, "token": server.token})
            assert status == 400 and "nothing was changed" in page, (wrong, page)
        assert folders(persons) == before and not (persons / ".answers.json").exists()

        # while tracking adds to the persons folder, nothing is carried out; once it is done, it is
        with Lease(persons, "tracking", program="obj_counting.py").shared():
            status, page = server.request("POST", "/apply", yes, headers={"X-Review-Token": server.token})
        assert status == 409 and "in use by obj_counting.py (tracking, pid" in page, page
        assert folders(persons) == before and not (persons / ".answers.json").exists()

        # two tabs send their answers at once: the plan is carried out once, the other tab told so
        replies: list[tuple[int, str]] = []

        def send() -> None:
            replies.append(server.request("POST", "/apply", {**yes, "token": server.token}))

        tabs = [threading.Thread(target=send) for _ in range(2)]
        for tab in tabs:
            tab.start()
        for tab in tabs:
            tab.join(300)
        assert sorted(status for status, _ in replies) == [200, 409], replies
        assert "carried out already" in next(page for status, page in replies if status == 409)
    except BaseException:
        server.process.kill()
        raise
    proc = server.finish()
    assert proc.returncode == 0, proc.stderr
    assert "Not carried out: " in proc.stdout and "in use by obj_counting.py" in proc.stdout
    assert "refused an answer without the right token" in proc.stderr
    after = crops(persons)
    one_holds_both(after, crops_before, "id_1", "id_11")
    assert {k: v for k, v in after.items() if k not in ("id_1", "id_11")} == {
        k: v for k, v in crops_before.items() if k not in ("id_1", "id_11")
    }


@pytest.mark.slow
def test_ctrl_c_stops_the_server_with_nothing_changed(workdir, reid_0287):  # noqa: F811
    persons = workdir / "persons"
    before = folders(persons)
    server = Server(workdir, reid_0287)
    proc = server.stop()
    assert proc.returncode == 0, proc.stderr
    assert "Stopped: nothing was merged." in proc.stdout and "Traceback" not in proc.stderr
    assert folders(persons) == before and not (persons / "backup_before_merge").exists()
    assert not list(persons.glob(".lease*"))  # nothing left holding the folder


def test_host_and_port_need_the_review_server(tmp_path):
    (tmp_path / "persons").mkdir()
    for flags in (["--port", "5003"], ["--host", "0.0.0.0"], ["--review-server", "--port", "70000"]):
        proc = run_script("deeplearningg_reID.py", *flags, cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (flags, proc.stderr)
        assert ("needs --review-server" in proc.stderr) or ("0 to 65535" in proc.stderr)


@pytest.mark.slow
def test_the_browser_and_the_terminal_make_the_same_of_the_same_answers(tmp_path, labelled_crops, reid_0287):  # noqa: F811
    """The same answers (the split refused, id_9 left out of its group, the other group refused), typed
    at --review-each and sent to --review-server: the same folders after, the same answers kept."""
    from test_review_each import make_workdir, review_each

    terminal = make_workdir(tmp_path / "terminal", labelled_crops)
    browser_side = tmp_path / "browser"
    shutil.copytree(terminal, browser_side)

    typed = review_each(terminal, reid_0287, ["n", "id_9", "n"])
    assert typed.returncode == 0, typed.stderr

    server = Server(browser_side, reid_0287)
    try:
        groups = server.page_groups()
        first, second = groups[("id_1", "id_2", "id_9")], groups[("id_3", "id_7")]
        answers = {"split-1": "no", f"group-{first}": "yes", f"leave-{first}": "id_9", f"group-{second}": "no"}
        status, page = server.request("POST", "/apply", {**answers, "token": server.token})
        assert status == 200, page
    except BaseException:
        server.process.kill()
        raise
    proc = server.finish()
    assert proc.returncode == 0, proc.stderr
    assert "Accepted 1 of 3 proposals in the browser." in proc.stdout

    assert crops(browser_side / "persons") == crops(terminal / "persons")

    def kept(workdir: Path) -> dict:
        data = json.loads((workdir / "persons" / ".answers.json").read_text())
        return {
            k: [{f: v for f, v in e.items() if f != "answered"} for e in entries]
            for k, entries in data.items()
            if isinstance(entries, list)
        }

    assert kept(browser_side) == kept(terminal) and kept(terminal)["whole"] and kept(terminal)["apart"]


def test_killed_while_carrying_out_the_approved_plan_the_next_run_finishes_it_and_no_answer_is_lost(
    workdir,
    reid_0287,  # noqa: F811
):
    persons = workdir / "persons"
    crops_before = crops(persons)
    # SIGKILLed in the middle of the approved merge (id_11's second crop moved into id_1)
    server = Server(workdir, reid_0287, env=os.environ | {"REID_FAULT_AT": "moved:1"})
    try:
        groups = server.page_groups()
        approved, refused = groups[("id_1", "id_11")], groups[("id_13", "id_3")]
        answers = {f"group-{approved}": "yes", f"group-{refused}": "no", "token": server.token}
        with pytest.raises((ConnectionError, http.client.HTTPException)):  # the server died answering
            server.request("POST", "/apply", answers)
    except BaseException:
        server.process.kill()
        raise
    assert server.finish().returncode == -signal.SIGKILL
    kept = json.loads((persons / ".answers.json").read_text())  # written before anything was moved
    assert (len(kept["together"]), len(kept["apart"])) == (1, 1)

    again = run_script("deeplearningg_reID.py", "--backbone", "reid-0287", "--weights", reid_0287, "--yes", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "Note: " in again.stdout  # the interrupted merge was finished (or rolled back) first, and said so
    after = crops(persons)
    assert after["id_1"] == sorted(crops_before["id_1"] + crops_before["id_11"]) and "id_11" not in after
    assert after["id_3"] == crops_before["id_3"] and after["id_13"] == crops_before["id_13"]  # refused: kept apart


@pytest.mark.slow
def test_a_plan_whose_folders_changed_meanwhile_is_not_carried_out(workdir, reid_0287):  # noqa: F811
    persons = workdir / "persons"
    server = Server(workdir, reid_0287)
    try:
        number = server.page_groups()[("id_1", "id_11")]
        shutil.copy2(persons / "id_11" / "hall_f000410.png", persons / "id_11" / "hall_f000450.png")  # a new crop
        before = folders(persons)
        status, page = server.request("POST", "/apply", {f"group-{number}": "yes", "token": server.token})
        assert status == 409 and "the folders changed since the plan was made (id_11)" in page, page
    except BaseException:
        server.process.kill()
        raise
    proc = server.finish()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "Error: the folders changed since the plan was made (id_11); nothing was merged" in proc.stderr
    assert folders(persons) == before and not (persons / ".answers.json").exists()


@pytest.mark.slow
def test_another_host_is_listened_on_only_when_asked_and_still_needs_the_token(workdir, reid_0287):  # noqa: F811
    server = Server(workdir, reid_0287, "--host", "0.0.0.0")
    try:
        assert server.url.startswith("http://0.0.0.0:")
        assert listening_addresses(server.port) == ["00000000"]  # every interface
        assert server.request("GET", "/")[0] == 403
        assert server.request("GET", f"/?token={server.token}")[0] == 200
    except BaseException:
        server.process.kill()
        raise
    proc = server.stop()
    assert proc.returncode == 0 and "listening on 0.0.0.0" in proc.stderr, proc.stderr
