"""Reliability under load and under kills, shared by the tests and the benchmark report.

- ``monitor_load``: the real ``health_check.py`` on loopback, N clients x M requests, while
  another process rewrites ``status.json`` (>= 50 times a second); every answer is checked, and
  the rewrites the answers showed are counted.
- ``merge_kill_round``: ``deeplearningg_reID.py --yes`` SIGKILLed at a chosen step or at a
  random moment, run again, and the persons folder checked crop by crop against the original.

Every loop here is bounded in count, and in time by a hang guard; the tests assert outcomes
(requests answered, answers valid, nothing lost), the benchmark report the speeds.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .common import REPO, Section, Settings, Target, table

ENDPOINTS = ("/health", "/health/processing", "/health/reid", "/health/persons?limit=5", "/metrics")
METRIC_LINE = re.compile(r"^(#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|NaN|[+-]Inf)$")


# -- the monitor under load ----------------------------------------------------------------


@dataclass
class LoadResult:
    clients: int
    requests: int  # answered or failed
    failed: int
    invalid: int
    seconds: float
    latencies_ms: list[float]
    rewrites: int
    rewrite_seconds: float
    problems: list[str] = field(default_factory=list)  # the first few, for the failure message
    versions_seen: int = 0  # distinct status.json rewrites that some answer of /health showed

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def rewrite_hz(self) -> float:
        return self.rewrites / self.rewrite_seconds if self.rewrite_seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def start_monitor(workdir: Path, timeout: float = 60, persons: Path | None = None) -> tuple[subprocess.Popen, int]:
    """health_check.py on a free loopback port, as a user starts it, serving ``persons`` (default
    ``workdir/persons``); returns (process, port)."""
    log = open(workdir / "monitor.log", "w")  # noqa: SIM115 - a file, not a pipe: an unread pipe would block the server
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "health_check.py"),
            "--port",
            "0",
            "--status",
            str(workdir / "status.json"),
            "--persons",
            str(persons if persons is not None else workdir / "persons"),
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    ready: list[str] = []
    reader = threading.Thread(target=lambda: ready.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    match = re.search(r"http://127\.0\.0\.1:(\d+)/health", ready[0] if ready else "")
    if not match:
        stop_monitor(process)
        raise RuntimeError(f"the monitor did not start: {ready} {(workdir / 'monitor.log').read_text()[-2000:]}")
    return process, int(match.group(1))


def stop_monitor(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


REWRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from reid.core.status import StatusFile
    status, stop, limit = StatusFile(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    start = time.monotonic()
    count = 0
    while not stop.exists() and time.monotonic() - start < limit:  # the limit: a hang guard
        count += 1
        section = ("counting", "processing", "reid")[count % 3]
        status.update_section(section, {"state": "running", "frames_done": count, "done": count,
                                        "total": 10**6, "persons": count % 50, "pad": "x" * (count * 131 % 20000)})
        time.sleep(0.008)  # about 100 rewrites a second
    print(count, time.monotonic() - start)
""")


def check_answer(path: str, status: int, body: bytes) -> str | None:
    """None when the answer is a complete, valid one; else what is wrong with it."""
    if status != 200:
        return f"{path}: HTTP {status} {body[:200]!r}"
    if path == "/metrics":
        text = body.decode("utf-8")
        bad = [line for line in text.splitlines() if line and not METRIC_LINE.match(line)]
        return f"/metrics: invalid line {bad[0]!r}" if bad or "reid_persons" not in text else None
    try:
        data = json.loads(body)
    except ValueError:
        return f"{path}: invalid JSON {body[:200]!r}"
    if not isinstance(data, dict) or data.get("status") != "pass":
        return f"{path}: unexpected body {body[:200]!r}"
    return None


def monitor_load(
    workdir: Path, clients: int = 16, requests_per_client: int = 500, rewrite: bool = True, time_limit_s: float = 900
) -> LoadResult:
    """Query the real monitor from ``clients`` threads (one keep-alive connection each).
    ``time_limit_s`` is a hang guard: requests not made by then are a problem, named as such."""
    import http.client

    persons = workdir / "persons"
    for n in range(1, 13):
        (persons / f"id_{n}").mkdir(parents=True, exist_ok=True)
        (persons / f"id_{n}" / "a_f000001.jpg").write_bytes(b"\xff\xd8" + os.urandom(64))
    (workdir / "status.json").write_text(json.dumps({"counting": {"state": "done", "persons": 12}}))
    process, port = start_monitor(workdir)
    stop_file = workdir / "stop-rewriting"
    stop_file.unlink(missing_ok=True)
    writer = None
    if rewrite:
        writer = subprocess.Popen(
            [sys.executable, "-c", REWRITER, str(workdir / "status.json"), str(stop_file), str(time_limit_s)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for_first_rewrite(workdir / "status.json", writer)
    deadline = time.monotonic() + time_limit_s
    lock = threading.Lock()
    latencies: list[float] = []
    problems: list[str] = []
    counts = collections.Counter()
    versions: set[str | None] = set()  # the last_update each /health answer showed

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        try:
            for i in range(requests_per_client):  # bounded in count...
                if time.monotonic() > deadline:  # ...and by a hang guard
                    with lock:
                        counts["unmade"] += requests_per_client - i
                    break
                path = ENDPOINTS[(number + i) % len(ENDPOINTS)]
                start = time.perf_counter()
                try:
                    connection.request("GET", path)
                    response = connection.getresponse()
                    status, body = response.status, response.read()
                except (OSError, http.client.HTTPException) as exc:
                    connection.close()  # reconnect for the next request
                    with lock:
                        counts["failed"] += 1
                        problems.append(f"{path}: {type(exc).__name__} {exc}")
                    continue
                mine.append((time.perf_counter() - start) * 1000)
                wrong = check_answer(path, status, body)
                if wrong:
                    with lock:
                        counts["invalid"] += 1
                        problems.append(wrong)
                elif path == "/health":
                    versions.add(json.loads(body)["last_update"])
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    rewrites, rewrite_seconds = 0, 0.0
    if writer is not None:
        stop_file.touch()
        out, err = writer.communicate(timeout=60)
        if writer.returncode != 0:
            raise RuntimeError(f"the status rewriter failed: {err[-2000:]}")
        rewrites, rewrite_seconds = int(out.split()[0]), float(out.split()[1])
    if counts["unmade"]:
        problems.insert(0, f"hang guard: {counts['unmade']} requests not made after {time_limit_s:.0f} s")
    alive = process.poll() is None
    code = stop_monitor(process)
    if not alive or code != 0:
        problems.append(f"the monitor exited with {code}: {(workdir / 'monitor.log').read_text()[-1000:]}")
        counts["failed"] += 1
    return LoadResult(
        clients,
        len(latencies) + counts["failed"],
        counts["failed"],
        counts["invalid"],
        seconds,
        latencies,
        rewrites,
        rewrite_seconds,
        problems[:10],
        len(versions),
    )


def _wait_for_first_rewrite(status: Path, writer: subprocess.Popen, timeout: float = 120) -> None:
    """Until the rewriter's first status.json is there (its sections carry ``pad``); ``timeout``: a hang guard."""
    deadline = time.monotonic() + timeout
    while writer.poll() is None and time.monotonic() < deadline:
        try:
            if "pad" in status.read_text():
                return
        except OSError:
            pass
        time.sleep(0.05)
    writer.kill()
    _, err = writer.communicate(timeout=60)
    raise RuntimeError(f"the status rewriter never rewrote {status} (hang guard: {timeout:.0f} s): {err[-2000:]}")


# -- kills during a merge ------------------------------------------------------------------

# Folders are compared by the mean similarity over all their pairs of crops. With the genuine
# ImageNet MobileNetV2, a folder and its exact copy (8 views of one person) score 0.72-0.74 for
# the people used here (001, 003, 007), and different people at most 0.67 against each other:
# 0.70 merges exactly the copies.
DUPLICATE_THRESHOLD = "0.70"
REID_ARGS = ["--backbone", "mobilenetv2", "--threshold", DUPLICATE_THRESHOLD, "--no-progress"]
MERGE_ARGS = [*REID_ARGS, "--yes"]


def _track(person_id: int, first: int, last: int, crops: list[str]) -> dict:
    return {
        "schema": 1,
        "person_id": person_id,
        "run_id": "run-1",
        "video": "/videos/hall.mp4",
        "tracker_id": person_id,
        "first_frame": first,
        "last_frame": last,
        "segments": [[first, last]],
        "crops": [{"file": c, "frame": first + i} for i, c in enumerate(crops)],
    }


def build_merge_workdir(labelled: Path, workdir: Path) -> Path:
    """persons/ whose merge at DUPLICATE_THRESHOLD is known: id_2 into id_1 (same crop names,
    so every file is renamed), id_4 into id_3 (new names: plain moves, plus a user's note);
    id_5 and id_6 are one person seen at the same time (never merged); id_7 is alone."""
    persons = workdir / "persons"

    def folder(name: str, identity: str, prefix: str, meta: tuple[int, int, int] | None) -> None:
        (persons / name).mkdir(parents=True)
        names = []
        for image in sorted((labelled / identity).glob("01_*.png")):
            shutil.copy2(image, persons / name / f"{prefix}{image.name}")
            names.append(f"{prefix}{image.name}")
        if meta:
            (persons / name / "track.json").write_text(json.dumps(_track(meta[0], meta[1], meta[2], names)))

    folder("id_1", "001", "", (1, 0, 50))
    folder("id_2", "001", "", (2, 100, 150))
    folder("id_3", "003", "a_", (3, 200, 250))
    folder("id_4", "003", "b_", (4, 300, 350))
    (persons / "id_4" / "notes.txt").write_text("checked by hand\n")
    folder("id_5", "007", "", (5, 400, 450))
    folder("id_6", "007", "", (6, 420, 440))
    folder("id_7", "011", "", None)
    return workdir


def warm_cache(workdir: Path, weights: Path) -> None:
    """A dry run fills persons/.reid_cache, so later runs skip the network (seconds, not tens)."""
    dry = run_reid(workdir, weights, "--dry-run")
    groups = (r"id_1 \(\d+ crops\)  <-  id_2 \(", r"id_3 \(\d+ crops\)  <-  id_4 \(")  # in either order
    if dry.returncode != 0 or not all(re.search(group, dry.stdout) for group in groups):
        raise RuntimeError(f"the dry run did not propose the expected plan:\n{dry.stdout}\n{dry.stderr[-2000:]}")


EXPECTED_AFTER_MERGE = ["id_1", "id_3", "id_5", "id_6", "id_7"]


def run_reid(
    workdir: Path, weights: Path, *extra: str, fault: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """deeplearningg_reID.py with the test settings; ``extra`` e.g. --yes or --dry-run."""
    env = {k: v for k, v in os.environ.items() if k != "REID_FAULT_AT"}
    if fault:
        env["REID_FAULT_AT"] = fault
    return subprocess.run(
        [sys.executable, str(REPO / "deeplearningg_reID.py"), *REID_ARGS, "--weights", str(weights), *extra],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def crop_multiset(persons: Path) -> collections.Counter:
    """The content of every user file outside the backup and the hidden bookkeeping;
    track.json is left out because a merge rewrites it (its old versions are in the backup)."""
    return collections.Counter(
        digest
        for name, digest in file_hashes(persons).items()
        if not name.startswith((".", "backup_before_merge")) and "/." not in name and not name.endswith("track.json")
    )


def verify_after_rerun(original: Path, workdir: Path) -> list[str]:
    """Everything the promise says, as a list of broken parts (empty: kept)."""
    from reid.core.status import StatusError, parse_status

    problems = []
    persons = workdir / "persons"
    if crop_multiset(persons) != crop_multiset(original / "persons"):
        problems.append("the crops in the persons folder differ from the original (lost or duplicated)")
    backups = sorted((persons / "backup_before_merge").glob("*")) if (persons / "backup_before_merge").exists() else []
    for backup in backups:
        manifest = json.loads((backup / "merge.json").read_text())
        if manifest.get("state") != "merged":
            problems.append(f"{backup.name}: state {manifest.get('state')}")
        for group in manifest["groups"]:
            for name in (group["survivor"], *group["members"]):
                if file_hashes(backup / name) != file_hashes(original / "persons" / name):
                    problems.append(f"the backup of {name} in {backup.name} is not the original")
    if len(backups) != 1:
        problems.append(f"{len(backups)} backups instead of 1")
    folders = sorted(p.name for p in persons.glob("id_*"))
    if folders != EXPECTED_AFTER_MERGE:
        problems.append(f"folders after the merge: {folders}")
    leftovers = [p.name for p in persons.iterdir() if p.name.startswith((".merge_journal", ".undo"))]
    if leftovers:
        problems.append(f"left behind: {leftovers}")
    try:
        status = parse_status((workdir / "status.json").read_text())
        if status["reid"].get("state") != "done":
            problems.append(f"status.json reid state {status['reid'].get('state')}")
    except (OSError, StatusError) as exc:
        problems.append(f"status.json: {exc}")
    return problems


def journal_stage(persons: Path) -> str:
    """Where a killed merge stood, read from its journal."""
    journal = persons / ".merge_journal.jsonl"
    if not journal.exists():
        merged = (persons / "backup_before_merge").exists() and any((persons / "backup_before_merge").iterdir())
        return "after the merge" if merged else "before the merge"
    ops = [json.loads(line)["op"] for line in journal.read_text().splitlines() if line.strip().endswith("}")]
    if "done" in ops:
        return "filing the journal"
    if "removed" in ops or "metadata" in ops:
        return "metadata and clean-up"
    if "backup_verified" in ops:
        return "moving files"
    return "backing up"


def merge_kill_round(
    template: Path, workdir: Path, weights: Path, kill_after_s: float | None = None, fault: str | None = None
) -> tuple[str, int, list[str]]:
    """Copy the template, kill a merge (at ``fault``, or ``kill_after_s`` after the journal
    appears or, if negative, after the start), run again; (where it died, its exit code, problems)."""
    shutil.copytree(template, workdir, copy_function=shutil.copy2)  # keeps mtimes: the cache still hits
    persons = workdir / "persons"
    if fault is not None:
        killed = run_reid(workdir, weights, "--yes", fault=fault)
        code, stage = killed.returncode, journal_stage(persons)
    else:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "deeplearningg_reID.py"), *MERGE_ARGS, "--weights", str(weights)],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        start = time.monotonic()
        if kill_after_s is not None and kill_after_s >= 0:  # aim at the merge itself
            while (
                not (persons / ".merge_journal.jsonl").exists()
                and process.poll() is None
                and time.monotonic() - start < 120
            ):
                time.sleep(0.0005)
        time.sleep(abs(kill_after_s or 0.0))
        process.send_signal(signal.SIGKILL)
        code = process.wait(timeout=60)
        stage = journal_stage(persons)
    again = run_reid(workdir, weights, "--yes")
    problems = [] if again.returncode == 0 else [f"the rerun failed ({again.returncode}): {again.stderr[-1500:]}"]
    return stage, code, problems + verify_after_rerun(template, workdir)


def timed_merge(workdir: Path, weights: Path) -> tuple[float, float]:
    """An uninterrupted merge: (seconds for the whole run, seconds its journal existed)."""
    journal = workdir / "persons" / ".merge_journal.jsonl"
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "deeplearningg_reID.py"), *MERGE_ARGS, "--weights", str(weights)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    appeared = gone = None
    while process.poll() is None and time.monotonic() - start < 300:  # bounded in time
        exists = journal.exists()
        if exists and appeared is None:
            appeared = time.monotonic()
        if not exists and appeared is not None and gone is None:
            gone = time.monotonic()
        time.sleep(0.0005)
    if process.wait(timeout=60) != 0:
        raise RuntimeError(f"an uninterrupted merge failed: {process.stderr.read()[-2000:]}")
    end = time.monotonic()
    return end - start, ((gone or end) - appeared) if appeared else 0.0


def random_kills(template: Path, work: Path, weights: Path, rounds: int, seed: int) -> list[tuple[str, int, list[str]]]:
    """``rounds`` kills at random moments: half anywhere in the run, half while its journal exists."""
    shutil.copytree(template, work / "timing", copy_function=shutil.copy2)
    run_s, merge_s = timed_merge(work / "timing", weights)
    rng = random.Random(seed)
    results = []
    for n in range(rounds):
        delay = rng.uniform(0, max(merge_s, 0.001)) if n % 2 else -rng.uniform(0, run_s)
        results.append(merge_kill_round(template, work / f"round-{n}", weights, kill_after_s=delay))
    return results


# -- the report ------------------------------------------------------------------------------


def report(s: Settings) -> Section:
    clients, per_client = 16, s.pick(100, 500)
    quiet = monitor_load(s.work / "load-quiet", clients, per_client, rewrite=False)
    busy = monitor_load(s.work / "load-busy", clients, per_client, rewrite=True)
    rows = [
        [
            name,
            r.requests,
            r.failed,
            r.invalid,
            r.requests_per_s,
            r.percentile_ms(50),
            r.percentile_ms(99),
            max(r.latencies_ms, default=float("nan")),
            r.rewrite_hz if r.rewrites else "-",
        ]
        for name, r in (("status.json unchanged", quiet), ("status.json rewritten", busy))
    ]
    load_table = table(
        ["status file", "requests", "failed", "invalid", "req/s", "p50 ms", "p99 ms", "max ms", "rewrites/s"], rows
    )
    rounds, seed = s.pick(4, 20), 20261124
    template = build_merge_workdir(s.labelled, s.work / "kill-template")
    warm_cache(template, s.mobilenet_v2)
    results = random_kills(template, s.work / "kills", s.mobilenet_v2, rounds, seed)
    by_stage = collections.Counter(stage for stage, _, _ in results)
    broken = [p for _, _, problems in results for p in problems]
    kill_table = table(["where the kill landed", "kills"], sorted(by_stage.items()))
    body = (
        f"The real monitor on loopback, {clients} clients x {per_client} requests each (keep-alive, the five "
        f"endpoints in turn, every answer parsed and checked), with status.json unchanged and then rewritten "
        f"by another process; its ratio shows what the rewrites cost.\n\n{load_table}\n\n"
        f"Requests/s with rewrites / without: {busy.requests_per_s / quiet.requests_per_s:.2f}.\n\n"
        f"`deeplearningg_reID.py --yes` SIGKILLed at {rounds} random moments (seed {seed}; half anywhere in "
        f"the run, half inside the merge), then run again; each time the crops (multiset of file hashes), the "
        f"backup, the folders and status.json were checked. Kills at every named step are in the test suite "
        f"(tests/test_faults.py).\n\n{kill_table}\n\nRounds that broke a promise: {len(broken)}.\n\n"
        "Longer runs: `python -m benchmarks.stress --kills 200 --requests 5000`."
    )
    targets = [
        Target(
            "failed + invalid monitor answers under rewrites",
            busy.failed + busy.invalid,
            "= 0",
            busy.failed + busy.invalid == 0,
        ),
        Target("status rewrites per second during the load", busy.rewrite_hz, ">= 50", busy.rewrite_hz >= 50),
        Target("kill rounds that lost, duplicated or damaged anything", len(broken), "= 0", not broken),
    ]
    return Section("Reliability", body, targets)
