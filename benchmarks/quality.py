"""Peak memory of each script, accuracy of the grouping, and the count on the sample video."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

from .common import REPO, ChildRun, Section, Settings, Target, run_child, table
from .speed import make_resnet50_weights


def memory(s: Settings) -> Section:
    """Peak resident memory of each script, and how it grows with the input."""
    work = s.work / "memory"
    work.mkdir()
    rows = []
    tracking = []
    for frames in s.pick([30, 90], [200, 700, 1394]):
        folder = work / f"track{frames}"
        folder.mkdir()
        run = track_sample_video(s, frames, folder)
        tracking.append(run.peak_rss_mb)
        rows.append(["obj_counting.py", f"{frames} frames", run.peak_rss_mb])
    weights = make_resnet50_weights(work)
    reid = []
    for count in s.pick([2, 4], [16, 62]):
        persons = work / f"reid{count}" / "persons"
        for number, identity in enumerate(sorted(p for p in s.labelled.iterdir() if p.is_dir())[:count]):
            shutil.copytree(identity, persons / f"id_{number + 1}")
        run = run_child(
            [
                REPO / "deeplearningg_reID.py",
                "--dry-run",
                "--weights",
                weights,
                "--threshold",
                "0.99",
                "--no-progress",
                "-q",
            ],
            cwd=persons.parent,
        )
        reid.append(run.peak_rss_mb)
        rows.append(["deeplearningg_reID.py --dry-run (ResNet50)", f"{count * 16} crops", run.peak_rss_mb])
    rows.append(["health_check.py", "200 requests", monitor_peak_mb(persons.parent)])
    growth = tracking[-1] / tracking[0]
    body = (
        "Peak resident set size (the child's `ru_maxrss`).\n\n"
        + table(["script", "input", "peak RSS MiB"], rows)
        + f"\n\nTracking: {tracking[-1]:.0f} MiB for the longest input against {tracking[0]:.0f} MiB for "
        f"the shortest ({growth:.2f}x for {s.pick(3, 7)}x the frames): memory does not grow with the "
        f"video. Re-ID: {reid[-1]:.0f} MiB against {reid[0]:.0f} MiB."
    )
    return Section(
        "Peak memory", body, [Target("tracking memory, longest / shortest input", growth, "<= 1.1", growth <= 1.1)]
    )


def monitor_peak_mb(persons_parent: Path) -> float:
    """Start the monitor on a free port, query it, read its peak memory, stop it."""
    process = subprocess.Popen(
        [sys.executable, str(REPO / "health_check.py"), "--port", "0"],
        cwd=persons_parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(re.search(r":(\d+)/health", process.stdout.readline()).group(1))
        for i in range(200):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", ("/health", "/health/persons", "/metrics", "/health/processing")[i % 4])
            connection.getresponse().read()
            connection.close()
        status = Path(f"/proc/{process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def accuracy(s: Settings) -> Section:
    """`reid.evaluation.crops` on the labelled crops: genuine ImageNet MobileNets, random weights as the floor."""
    from reid.core.config import DEFAULT_THRESHOLDS, MatchingConfig
    from reid.evaluation.crops import evaluate, format_report, fragment, parse_thresholds
    from reid.matching.features import FeatureExtractor

    labelled = s.labelled
    if s.quick:
        labelled = s.work / "labelled"
        for identity in sorted(p for p in s.labelled.iterdir() if p.is_dir())[:6]:
            shutil.copytree(identity, labelled / identity.name)
    fragments = fragment(labelled, 4)
    thresholds = parse_thresholds(s.pick("0.80:0.96:0.08", "0.70:0.98:0.02"))
    reports, targets = [], []
    for backbone, weights, label in (
        ("mobilenetv2", str(s.mobilenet_v2), "ImageNet"),
        ("mobilenet025", str(s.mobilenet_025), "ImageNet"),
        ("mobilenetv2", "none", "random (the floor)"),
    ):
        config = MatchingConfig(backbone=backbone, weights=str(weights))
        result = evaluate(fragments, partial(FeatureExtractor, config), thresholds, DEFAULT_THRESHOLDS[backbone])
        reports.append(format_report(result, f"{backbone}, {label} weights"))
    body = (
        f"`python -m reid.evaluation.crops` on `reid_col780_train` ({'6 identities (quick)' if s.quick else 'all 62'}"
        f" identities, 2 cameras, 48x128 crops), 4 crops per simulated person folder, 256x128 input. ResNet50's "
        "ImageNet weights cannot be obtained on these machines, so its quality is not measured here.\n\n"
        + "\n".join(reports)
    )
    return Section("Re-identification accuracy", body, targets)


def counting(s: Settings) -> Section:
    """Person folders after tracking the sample video and after the merge plan."""
    frames = s.pick(300, 1394)
    work = s.work / "counting"
    work.mkdir()
    track = track_sample_video(s, frames, work)
    folders = sorted(p.name for p in (work / "persons").glob("id_*"))
    plans = []
    for backbone, weights in (("mobilenetv2", s.mobilenet_v2), ("mobilenet025", s.mobilenet_025)):
        plan = run_child(
            [
                REPO / "deeplearningg_reID.py",
                "--dry-run",
                "--backbone",
                backbone,
                "--weights",
                weights,
                "--no-progress",
                "-q",
            ],
            cwd=work,
        )
        groups = re.findall(r"^\s+\d+\. (.+)$", plan.stdout, flags=re.MULTILINE)
        similarity = re.findall(r"similarity min ([\d.]+)\s+mean ([\d.]+)", plan.stdout)
        listed = (
            "; ".join(f"{g} (min {lo}, mean {mean})" for g, (lo, mean) in zip(groups, similarity, strict=True))
            or "none"
        )
        plans.append([backbone, len(folders) - sum(g.count("id_") - 1 for g in groups), listed])
    summary = re.search(r"Total: .*", track.stdout).group(0)
    body = (
        f"`obj_counting.py` on the first {frames} frames of the sample video (six different people walk in "
        f"one at a time): {len(folders)} person folders ({', '.join(folders)}). {summary}\n\n"
        "Merge plans (`deeplearningg_reID.py --dry-run`, default thresholds):\n\n"
        + table(["backbone", "folders after the merge", "groups proposed"], plans)
    )
    return Section("Counting on the sample video", body)


def track_sample_video(s: Settings, frames: int, cwd: Path) -> ChildRun:
    """obj_counting.py on the first ``frames`` frames of the sample video, quietly, from ``cwd``."""
    arguments = ["--videos", s.video, "--model", s.detector, "--max-frames", frames, "--no-progress", "-q"]
    return run_child([REPO / "obj_counting.py", *arguments], cwd=cwd)
