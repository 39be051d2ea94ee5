"""obj_counting.py against the detector alone (the ceiling of a plain loop), and the still-frame gate
against ``--no-skip`` (speed, and whether the gated run finds the same people)."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reid.tracking.mot import read_mot

from .common import REPO, Section, Settings, Target, run_child, table

MIN_IOU = 0.5  # a box of one run stands for a box of the other
MIN_SHARE = 0.5  # a person is found when boxes of the other run stand for theirs in this share of their frames
FPS = re.compile(r"frames in [\d.]+ s, ([\d.]+) fps")

Box = tuple[float, float, float, float]  # x1, y1, x2, y2


@dataclass
class Clip:
    name: str
    video: Path
    frames: int
    busy: bool  # people in every frame: the detector runs on every frame, gate or not
    repeats: int = 2  # runs of each kind (full mode): a clip of a few seconds needs more for a steady median


def clips(s: Settings) -> list[Clip]:
    mot = s.data / "mot"
    return [
        Clip("sample video", s.video, s.pick(300, 1394), busy=False),
        Clip("TUD-Stadtmitte", mot / "tud-stadtmitte" / "tud-stadtmitte.mp4", s.pick(80, 179), busy=True, repeats=4),
        Clip("Venice-2", mot / "venice-2" / "venice-2_960x540.mp4", s.pick(80, 600), busy=True),
    ]


@dataclass
class Run:
    fps: float
    boxes: dict[int, dict[int, Box]]  # person -> frame -> box, from the MOT file
    detected: float  # share of the frames the detector saw


def track(s: Settings, clip: Clip, work: Path, gated: bool, threads: int = 0, flags: Sequence[str] = ()) -> Run:
    """obj_counting.py on the clip (with ``flags``): its own frames/s, each person's box per frame (its
    MOT file), and the share of frames the detector saw (status.json)."""
    work.mkdir(parents=True)
    # --device cpu: where the detector alone runs too, even on a machine with a GPU
    command = [REPO / "obj_counting.py", "--videos", clip.video, "--model", s.detector, "--device", "cpu"]
    command += ["--max-frames", clip.frames, "--threads", threads, "--save-mot", "mot", "--no-progress", "-q"]
    run = run_child(command + ([] if gated else ["--no-skip"]) + list(flags), cwd=work)
    boxes: dict[int, dict[int, Box]] = defaultdict(dict)
    for path in (work / "mot").glob("*.txt"):
        for row in read_mot(path):
            boxes[row.id][row.frame] = (row.x, row.y, row.x + row.w, row.y + row.h)
    video = json.loads((work / "status.json").read_text())["counting"]["videos"][0]
    detected = 1 - video["skipped_frames"] / max(1, video["frames"])
    return Run(float(FPS.search(run.stdout).group(1)), dict(boxes), detected)


def detector_alone(s: Settings, clip: Clip, threads: int = 0) -> tuple[float, float, float]:
    """Calls per second of the interpreters alone as obj_counting.py runs them (its copies at once), of
    one interpreter on every thread, and of ultralytics' model call (``detector_alone.py``)."""
    calls = min(clip.frames, s.pick(60, 150))  # a rate: a few seconds of calls suffice
    run = run_child(["-m", "benchmarks.detector_alone", s.detector, clip.video, calls, threads], cwd=REPO)
    return tuple(
        float(re.search(rf"^{name} ([\d.]+)", run.stdout, re.MULTILINE).group(1))
        for name in ("FPS", "FPS_ONE", "FPS_ULTRALYTICS")
    )


# What each of obj_counting.py's threads does, by the name the system knows it by (reid/core/threads.py)
STEPS = (
    ("detector_", "the model (the detector's copies), its input and output"),
    ("tracking", "NMS, the tracker, choosing crops, status"),
    ("prefetch", "reading frames, letterboxing"),
    ("av:", "decoding (FFmpeg's threads)"),
    ("crop-writer", "encoding and writing crops"),
)
CEILING_SHARE = 0.95  # the target: obj_counting.py's share of the detector alone on busy footage
STEP = dict(STEPS)  # the label of each thread name's prefix
MAIN_STEP = "main thread: the gate, handing frames out"
OTHER_STEP = "other threads (start-up included)"


def cpu_by_step(s: Settings, clip: Clip, work: Path) -> tuple[dict[str, float], float, int]:
    """obj_counting.py --no-skip on the clip, the CPU seconds of its threads by step (read from /proc
    every 50 ms; the main thread's from when the video is opened), its frames/s and the cores."""
    work.mkdir(parents=True)
    command = [sys.executable, REPO / "obj_counting.py", "--videos", clip.video, "--model", s.detector]
    command += ["--device", "cpu", "--max-frames", clip.frames, "--no-skip", "--no-progress", "-q"]
    proc = subprocess.Popen(
        [str(c) for c in command], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    threads: dict[str, tuple[str, float]] = {}  # thread id -> (name, CPU seconds so far)
    main = []  # the main thread's CPU seconds while the video is tracked (not loading the detector, not exiting)
    tick = os.sysconf("SC_CLK_TCK")
    while proc.poll() is None:
        alive = set()
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            try:
                stat = (task / "stat").read_text()
            except OSError:  # the thread ended
                continue
            name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            threads[task.name] = (name, (int(fields[11]) + int(fields[12])) / tick)  # utime + stime
            alive.add(name)
        if str(proc.pid) in threads and "tracking" in alive:
            main.append(threads[str(proc.pid)][1])
        time.sleep(0.05)
    stdout = proc.stdout.read()
    if proc.returncode != 0:
        raise RuntimeError(f"obj_counting.py failed ({proc.returncode}) on {clip.video}")
    seconds = defaultdict(float)
    for tid, (name, cpu) in threads.items():
        if tid == str(proc.pid):
            seconds[MAIN_STEP] += main[-1] - main[0] if main else 0.0
            continue
        seconds[next((label for prefix, label in STEPS if name.startswith(prefix)), OTHER_STEP)] += cpu
    return dict(seconds), float(FPS.search(stdout).group(1)), os.cpu_count() or 1


def _cpu_table(s: Settings, clip: Clip, alone: float) -> str:
    """Where a frame's CPU goes in obj_counting.py --no-skip on ``clip``, against the detector alone."""
    seconds, fps, cores = cpu_by_step(s, clip, s.work / f"ceiling-cpu-{clip.video.stem}")
    per_frame = {step: 1000 * cpu / clip.frames for step, cpu in seconds.items()}
    machine, model_alone = 1000 * cores / fps, 1000 * cores / alone
    order = [label for _, label in STEPS] + [MAIN_STEP, OTHER_STEP]
    rows = [[step, per_frame[step]] for step in order if step in per_frame]
    rows.append(["all threads", sum(per_frame.values())])
    rows.append([f"the machine's CPU a frame: {cores} cores x 1 / {fps:.1f} fps", machine])
    # the model's own threads and the start-up aside, everything else is work a tracking run does on the same cores
    around = sum(ms for step, ms in per_frame.items() if step not in (STEP["detector_"], OTHER_STEP))
    needed = model_alone * (1 / CEILING_SHARE - 1)
    return (
        f"\n\nWhere the CPU goes: obj_counting.py `--no-skip` on the first {clip.frames} frames of {clip.name}, "
        "each thread's CPU time (by the name it has in the system, read from /proc every 50 ms) per frame. "
        f"The detector alone needs {model_alone:.1f} ms of CPU a frame ({cores} cores at its {alone:.1f} calls a "
        "second): the ratio to the detector alone is that over the CPU a frame takes here, once the work "
        "around the model has taken its share of the same cores.\n\n"
        + table(["thread's work", "CPU ms per frame"], rows)
        + f"\n\nWhat these cores allow: were the model's own {model_alone:.1f} ms untouched, the "
        f"{around:.1f} ms of work around it would still share the cores with it, for at most "
        f"{model_alone:.1f} / ({model_alone:.1f} + {around:.1f}) = {model_alone / (model_alone + around):.3f} of "
        f"the detector alone. {CEILING_SHARE} would need that work under {needed:.1f} ms a frame, or cores of its own "
        "(the section below): decoding and letterboxing alone take "
        f"{per_frame.get(STEP['av:'], 0) + per_frame.get(STEP['prefetch'], 0):.1f} ms."
    )


def iou(a: Box, b: Box) -> float:
    """
    >>> iou((0, 0, 2, 2), (1, 0, 3, 2))
    0.3333333333333333
    """
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def unfound(these: dict[int, dict[int, Box]], others: dict[int, dict[int, Box]]) -> list[int]:
    """Persons of ``these`` whom the other run does not have: in fewer than ``MIN_SHARE`` of their
    frames does a box of any of its persons overlap theirs (IoU >= ``MIN_IOU``). Any person of the
    other run counts, so a person whose track the other run broke in two is still found.

    >>> ours = {1: {1: (0, 0, 2, 2), 2: (0, 0, 2, 2)}, 2: {1: (5, 5, 6, 6)}}
    >>> unfound(ours, {7: {1: (0, 0, 2, 2)}, 8: {2: (0, 0, 2, 2)}})
    [2]
    """
    by_frame: dict[int, list[Box]] = defaultdict(list)
    for frames in others.values():
        for frame, box in frames.items():
            by_frame[frame].append(box)
    missing = []
    for person, frames in sorted(these.items()):
        seen = sum(any(iou(box, other) >= MIN_IOU for other in by_frame[frame]) for frame, box in frames.items())
        if seen < MIN_SHARE * len(frames):
            missing.append(person)
    return missing


def ceiling(s: Settings) -> Section:
    """Per clip, in turn and ``clip.repeats`` times: the detector alone, obj_counting.py with ``--no-skip``
    and with its default gate, the detector alone again; obj_counting.py's medians against the detector's best."""
    rows, people, targets, spare, skipping = [], [], [], [], []
    for clip in clips(s):
        repeats = s.pick(1, clip.repeats)
        fps: dict[str, list[float]] = {"alone": [], "one": [], "ultralytics": [], "full": [], "gated": []}
        found: dict[str, Run] = {}
        for attempt in range(repeats):
            for step in ("alone", "full", "gated", "alone"):
                if step == "alone":
                    for name, value in zip(("alone", "one", "ultralytics"), detector_alone(s, clip), strict=True):
                        fps[name].append(value)
                else:  # the runs are deterministic: any attempt's persons will do
                    found[step] = track(s, clip, s.work / f"ceiling-{clip.video.stem}-{step}{attempt}", step == "gated")
                    fps[step].append(found[step].fps)
        # Other work on a shared machine only ever slows a run down (one short run of the detector alone
        # once came out at half its speed), so the fastest is the ceiling: the comparison can only be stricter.
        alone, one, ultralytics = max(fps["alone"]), max(fps["one"]), max(fps["ultralytics"])
        full, gated = (statistics.median(fps[k]) for k in ("full", "gated"))
        rows.append(
            [clip.name, clip.frames, repeats, alone, one, ultralytics, full, gated, full / alone, gated / alone]
            + [full / one]
        )
        detected = found["gated"].detected
        skipping.append([clip.name, detected, 1 / detected, gated / full])
        lost, new = (
            unfound(found["full"].boxes, found["gated"].boxes),
            unfound(found["gated"].boxes, found["full"].boxes),
        )
        kept = 1 - len(lost) / len(found["full"].boxes) if found["full"].boxes else 1.0
        people.append([clip.name, len(found["full"].boxes), len(found["gated"].boxes), _ids(lost), _ids(new), kept])
        if clip.busy:
            spare.append(_with_a_core_to_spare(s, clip, repeats))
            targets += [
                Target(
                    f"{clip.name}: obj_counting.py --no-skip / detector alone (its copies at once)",
                    full / alone,
                    f">= {CEILING_SHARE}",
                    full >= CEILING_SHARE * alone,
                ),
                Target(
                    f"{clip.name}: obj_counting.py --no-skip / one interpreter on every thread",
                    full / one,
                    f">= {CEILING_SHARE}",
                    full >= CEILING_SHARE * one,
                ),
                Target(
                    f"{clip.name}: obj_counting.py (gate) / detector alone",
                    gated / alone,
                    f">= {CEILING_SHARE}",
                    gated >= CEILING_SHARE * alone,
                ),
                Target(f"{clip.name}: gate / --no-skip", gated / full, ">= 0.97", gated >= 0.97 * full),
            ]
        else:
            targets.append(Target(f"{clip.name}: gate / --no-skip", gated / full, ">= 2", gated >= 2 * full))
        targets.append(
            Target(f"{clip.name}: share of --no-skip persons the gated run found", kept, ">= 1.00", not lost)
        )
    body = (
        "The shared INT8 YOLOv8n (LiteRT), all cores, `--device cpu`; each clip's first frames; per clip the "
        "runs in turn, as many times as the column 'runs' says (more for the short TUD-Stadtmitte, whose runs "
        "take a few seconds): the detector alone, `--no-skip`, the gate, the detector alone again; "
        "obj_counting.py's medians against the detector's fastest run (other work on this shared "
        "machine only slows runs down, so this can only make the ratio stricter). "
        "`benchmarks/detector_alone.py` loads the model as obj_counting.py does and times LiteRT's own call "
        "on frames decoded, letterboxed and set as input beforehand: nothing but the model's arithmetic. "
        "'Detector alone' is the model as obj_counting.py runs it, in copies (`--detectors`: two where there "
        "are two threads or more, the threads shared out, all calling at once), the ceiling of the first "
        "targets; 'one interpreter' is the model on every thread, as ultralytics runs a LiteRT detector (and "
        "obj_counting.py did before it had copies); 'ultralytics' call' is `predictor.inference` on that one "
        "interpreter, which also copies and converts the input and output. No decoding, NMS, tracker or "
        "crops. obj_counting.py calls the interpreters directly (`DirectLiteRT` in "
        "`reid/tracking/litert.py`: the frame converted once into the interpreter's input, only the "
        "candidate persons copied out; same boxes and ids as ultralytics' `model.track`, "
        "tests/test_pipeline.py), and its own frames/s counts from opening the video to its last frame. The "
        "gate (default; `--no-skip` turns it off, see `reid/tracking/gate.py`) can beat that ceiling only where "
        "frames are skipped: on the sample video, empty for long stretches. The MOT clips always show people, "
        "so there the gate must merely cost nothing.\n\n"
        + table(
            [
                "clip",
                "frames",
                "runs",
                "detector alone fps (copies)",
                "one interpreter fps",
                "ultralytics' call fps",
                "--no-skip fps",
                "gate fps",
                "--no-skip / detector alone",
                "gate / detector alone",
                "--no-skip / one interpreter",
            ],
            rows,
        )
        + "\n\nWhat skipping can give: the gate's speed-up is bounded by the share of frames the detector still "
        "has to see (someone moving, or a track to follow); skipping the rest for free would give 1 / that "
        "share.\n\n"
        + table(["clip", "share of frames detected (gate)", "bound: 1 / share", "gate / --no-skip"], skipping)
        + "\n\nNo person lost: each run's persons (their boxes in every frame, from `--save-mot`) against the "
        f"other run's. A person is found when boxes of the other run overlap theirs (IoU >= {MIN_IOU}) in at "
        f"least {MIN_SHARE:.0%} of their frames; any of its persons counts, so a track broken in two there still "
        "finds its person.\n\n"
        + table(
            [
                "clip",
                "persons --no-skip",
                "persons with the gate",
                "--no-skip persons the gate lost",
                "gate persons --no-skip lacks",
                "share found",
            ],
            people,
        )
    )
    venice = next(row for row in rows if row[0] == "Venice-2")
    body += _cpu_table(s, next(c for c in clips(s) if c.name == "Venice-2"), venice[3])
    if spare:
        body += (
            "\n\nWith a core to spare: the detector on one thread (`--threads 1`, and the detector alone on one "
            "thread), so that the work around the model call (decoding, letterboxing, NMS, the tracker, crops) "
            "has a core of its own. obj_counting.py runs it on other threads than the model call "
            "(`reid/tracking/pipeline.py`): where a core is free, as on a machine with more cores than the "
            "detector keeps busy, the loop should come close to the detector alone; on all cores of this "
            "machine that work and the detector's threads share the same cores.\n\n"
            + table(
                ["clip", "interpreter alone fps (1 thread)", "--no-skip fps (--threads 1)", "--no-skip / alone"], spare
            )
        )
        targets += [
            Target(
                f"{row[0]}, --threads 1: obj_counting.py --no-skip / detector alone",
                row[3],
                f">= {CEILING_SHARE}",
                row[3] >= CEILING_SHARE,
            )
            for row in spare
        ]
    return Section("The detector's ceiling and still-frame skipping", body, targets)


def _with_a_core_to_spare(s: Settings, clip: Clip, repeats: int) -> list:
    """The detector alone and obj_counting.py --no-skip, both on one thread, in turn ``repeats`` times."""
    alone, full = [], []
    for attempt in range(repeats):
        alone.append(detector_alone(s, clip, threads=1)[0])
        full.append(track(s, clip, s.work / f"ceiling-{clip.video.stem}-1thread{attempt}", False, threads=1).fps)
        alone.append(detector_alone(s, clip, threads=1)[0])
    best, median = max(alone), statistics.median(full)
    return [clip.name, best, median, median / best]


def _ids(persons: list[int]) -> str:
    return ", ".join(f"id_{p}" for p in persons) if persons else "none"
