"""Peak memory of each script, accuracy of the grouping, and the count on the sample video."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import statistics
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


_INTEL = "intel/person-reidentification-retail-{0}/{1}/person-reidentification-retail-{0}.xml"
# backbone, its weights file under weights/ ("none": random), what the weights are
ACCURACY_MODELS = [
    ("reid-0287", _INTEL.format("0287", "FP32"), "Intel re-ID"),
    ("reid-0287-int8", _INTEL.format("0287", "FP16-INT8"), "Intel re-ID"),
    ("reid-0288", _INTEL.format("0288", "FP32"), "Intel re-ID"),
    ("reid-0277", _INTEL.format("0277", "FP16"), "Intel re-ID"),
    ("osnet-x0.25", "osnet_x0_25_msmt17.onnx", "MSMT17 re-ID"),
    ("mobilenetv2", "mobilenet_v2_1.0_224_no_top_from_tfslim_npy.h5", "ImageNet"),
    ("mobilenet025", "mobilenet_2_5_224_tf_no_top.h5", "ImageNet"),
    ("mobilenetv2", "none", "random (the floor)"),
]


def accuracy(s: Settings) -> Section:
    """`reid.evaluation.crops --choose-on-half` on the labelled crops, for every backbone, with and without
    per-camera normalisation: each threshold chosen on half of the identities, reported on the other half."""
    from reid.evaluation.crops_report import format_held_out
    from reid.evaluation.labelled import read_labelled
    from reid.evaluation.sweep import MemoryCache

    labelled = read_labelled(s.labelled)
    if s.quick:
        labelled = {identity: labelled[identity] for identity in sorted(labelled)[:10]}
    models = [ACCURACY_MODELS[0], ACCURACY_MODELS[5]] if s.quick else ACCURACY_MODELS
    seeds = s.pick([0], list(range(10)))
    rows, details, targets = [], [], []
    for backbone, weights, label in models:
        path = weights if weights == "none" else str(s.data / "weights" / weights)
        cache = MemoryCache()  # one network pass for both modes
        for normalise in (True, False):
            result, overall = _held_out(labelled, backbone, path, cache, seeds, normalise)
            rows.append(_accuracy_row(backbone, label, result, overall))
            if backbone == "reid-0287" and normalise:
                details.append(f"### {backbone}, per-camera normalisation\n\n" + format_held_out(result))
                targets += _accuracy_targets(result)
    body = (
        f"`python -m reid.evaluation.crops --choose-on-half --seeds {','.join(map(str, seeds))}` on "
        f"`reid_col780_train` ({len(labelled)} identities{' (quick)' if s.quick else ''}, 2 cameras x 8 views, "
        "48x128 crops) in folders of 4 crops per camera, 256x128 input; the merge stage's own code "
        "(`embed_folders`, `normalise_per_camera`, `decide_at`). For each seed the identities are split in two "
        "halves; the threshold is chosen on one half (rule: `reid/evaluation/calibration.py`) and scored on the "
        "other, both ways. Default = median of the choices; 'all identities' scores it on every identity (not "
        "held out: more people, more look-alikes). ResNet50's ImageNet weights cannot be obtained here, so it is "
        "not measured (it takes MobileNetV2's thresholds).\n\n"
        + table(
            [
                "backbone",
                "weights",
                "camera normalisation",
                "default (median of choices)",
                "first split: chosen -> held-out P / R",
                "held-out P mean (min)",
                "held-out R mean (min)",
                "target met",
                "all identities at the default: P / R",
            ],
            rows,
        )
        + "\n\n"
        + "\n".join(details)
    )
    return Section("Re-identification accuracy", body, targets)


def _held_out(labelled, backbone: str, weights: str, cache, seeds: list[int], normalise: bool):
    """The held-out choice of one backbone in one mode, and the pipeline's plan at its default on all identities."""
    from reid.core.config import MatchingConfig
    from reid.evaluation.calibration import hold_out
    from reid.evaluation.labelled import cut
    from reid.evaluation.sweep import Sweep, parse_thresholds
    from reid.matching.features import load_extractor

    config = MatchingConfig(backbone=backbone, weights=weights)
    extractor = partial(load_extractor, config)
    result = hold_out(labelled, extractor, cache, parse_thresholds("0.00:0.99:0.01"), seeds, 4, normalise)
    overall = (
        None if result.default is None else Sweep(cut(labelled, 4), extractor, cache, normalise).row(result.default)
    )
    return result, overall


def _accuracy_row(backbone: str, label: str, result, overall) -> list[object]:
    runs = [run for run in result.runs if run.reported is not None and run.choice.calibrated]
    first = result.runs[0]
    mode = "per camera" if first.chosen_on.applied else "raw"
    if first.choice.threshold is None:
        single = "none"
    else:
        single = f"{first.choice.threshold:.2f} -> {_pr(first.reported)}"
        single += "" if first.choice.calibrated else " (nothing merges: not calibrated)"
    precision = [run.reported.scores.pairwise_precision for run in runs]
    recall = [run.reported.scores.pairwise_recall for run in runs]
    spread = [f"{statistics.fmean(v):.3f} ({min(v):.3f})" if v else "-" for v in (precision, recall)]
    default = "none" if result.default is None else f"{result.default:.2f}"
    default += f" ({result.calibrated} of {len(result.runs)} calibrated)"
    met = f"{sum(run.met for run in result.runs)} of {len(result.runs)}"
    return [backbone, label, mode, default, single, *spread, met, _pr(overall)]


def _pr(row) -> str:
    return "-" if row is None else f"{row.scores.pairwise_precision:.3f} / {row.scores.pairwise_recall:.3f}"


def _accuracy_targets(result) -> list[Target]:
    runs = [run for run in result.runs if run.reported is not None and run.choice.calibrated]
    precision = statistics.fmean(run.reported.scores.pairwise_precision for run in runs) if runs else 0.0
    recall = statistics.fmean(run.reported.scores.pairwise_recall for run in runs) if runs else 0.0
    where = f"reid-0287, held-out identities ({len(result.runs)} evaluations, mean)"
    return [
        Target(f"{where}: pairwise precision", precision, ">= 0.99", precision >= 0.99),
        Target(f"{where}: pairwise recall", recall, ">= 0.70", recall >= 0.70),
    ]


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
