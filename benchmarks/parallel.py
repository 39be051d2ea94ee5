"""Many videos at once: obj_counting.py one video after another, with --workers 2 and with --ray (a local
Ray cluster started by the run), on the same four videos; wall time and whether the folders are the same."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import statistics
from pathlib import Path

from .common import REPO, Section, Settings, Target, run_child, table

MODES = {"one after another": [], "--workers 2": ["--workers", "2"], "--ray (local)": ["--ray"]}
FRAMES = re.compile(r"\((\d+) frames in ([\d.]+) s")


def videos(s: Settings) -> Path:
    """Four videos of different sizes and crowds, in one folder."""
    folder = s.work / "parallel-videos"
    folder.mkdir(parents=True, exist_ok=True)
    mot = s.data / "mot"
    sources = {
        "venice-2.mp4": mot / "venice-2" / "venice-2_960x540.mp4",
        "tud-stadtmitte.mp4": mot / "tud-stadtmitte" / "tud-stadtmitte.mp4",
        "sample-video.mp4": s.video,
        "example-clip.mp4": REPO / "examples" / "sample.mp4",
    }
    for name, source in sources.items():
        shutil.copy(source, folder / name)
    return folder


def same_folders(persons: Path) -> dict[tuple[str, int], str]:
    """Each folder by (video, tracker id): a digest of its crops and of its track.json without this run's ids."""
    found = {}
    for folder in persons.glob("id_*"):
        meta = json.loads((folder / "track.json").read_text())
        kept = {k: v for k, v in meta.items() if k not in ("person_id", "run_id")}
        digest = hashlib.sha256(json.dumps(kept, sort_keys=True).encode())
        for crop in sorted(folder.glob("*.jpg")):
            digest.update(crop.name.encode() + crop.read_bytes())
        found[(meta["video_name"], meta["tracker_id"])] = digest.hexdigest()
    return found


def parallel(s: Settings) -> Section:
    folder, frames = videos(s), s.pick(40, 300)
    repeats = s.pick(1, 2)
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    folders: dict[str, dict] = {}
    tracked = 0
    for attempt in range(repeats):
        for mode, flags in MODES.items():
            work = s.work / f"parallel-{attempt}-{len(seconds[mode])}-{flags[0] if flags else 'serial'}"
            work.mkdir(parents=True)
            command = [REPO / "obj_counting.py", "--videos", folder, "--model", s.detector, "--device", "cpu"]
            run = run_child(command + ["--max-frames", frames, "--no-progress", "-q", *flags], cwd=work)
            seconds[mode].append(run.seconds)
            tracked = int(FRAMES.search(run.stdout).group(1))
            folders[mode] = same_folders(work / "persons")
    serial = statistics.median(seconds["one after another"])
    rows, targets = [], []
    for mode in MODES:
        wall = statistics.median(seconds[mode])
        same = folders[mode] == folders["one after another"]
        rows.append([mode, wall, tracked / wall, serial / wall, "yes" if same else "**no**"])
        if mode != "one after another":
            targets.append(Target(f"{mode}: same folders as one after another", float(same), ">= 1.00", same))
    body = (
        f"obj_counting.py on 4 videos (Venice-2 960x540, TUD-Stadtmitte 640x480, the sample video 768x432, the "
        f"example clip; the first {frames} frames of each, {tracked} frames in all), the shared INT8 YOLOv8n on "
        f"`--device cpu`; the runs in turn, {repeats} time(s), medians of the whole command's wall time (start-up, "
        "the detector loaded in each worker, Ray started and stopped, included). One after another: the detector "
        "on all cores; `--workers 2`: two processes with one core's share each; `--ray`: a local Ray cluster, one "
        "task per video with one CPU each. 'Same folders': every folder's crops (bytes) and track.json (but for "
        "the ids) equal to the run one after another's.\n\n"
        + table(["mode", "wall s", "frames/s", "speed-up over one after another", "same folders"], rows)
        + "\n\nOn this 2-core machine the detector alone already keeps both cores busy, so workers gain only "
        "what one process cannot overlap, minus their start-up; they pay off with more cores than the detector "
        "can use, and Ray with more machines (README, 'Many videos at once')."
    )
    return Section("Many videos at once", body, targets)
