"""The tracking stage's bookkeeping, driven by a scripted tracker on generated videos.

The real detector is exercised end to end in test_obj_counting.py; here the detections
are known exactly, so folders, crops and metadata can be checked to the pixel.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import write_video
from reid.core.config import TrackingConfig
from reid.core.errors import OutputError
from reid.core.status import SectionReporter, StatusFile
from reid.tracking.detector import Detection
from reid.tracking.mot import read_mot
from reid.tracking.run import TrackingRun

# counted from 5 frames on (the 1 s rule is tested on its own below)
CONFIG = TrackingConfig(
    min_crop_height=64,
    min_crop_width=24,
    min_track_frames=5,
    min_track_seconds=0.0,
    max_crops=40,
    crop_interval_s=0.5,
    status_interval_s=0,
)

# frame -> detections for a 320x240 video of 80 frames at 10 fps
SCRIPT = {
    "walker": (1, (50, 40, 110, 200), range(0, 60)),
    "companion": (2, (150, 40, 210, 200), range(10, 41)),  # visible together with the walker
    "blip": (3, (230, 40, 290, 200), range(70, 73)),  # 3 frames: a false detection
    "at_edge": (4, (0, 40, 40, 200), range(0, 30)),  # always cut by the border: counted, crops marked
    "tiny": (5, (100, 100, 110, 120), range(0, 30)),  # always small (far away): counted, crops marked
}


class ScriptedTracker:
    """Returns the scripted detections; ids restart with every video, as a real tracker's may."""

    def __init__(self, script=SCRIPT, fail_at: int | None = None, interrupt_at: int | None = None):
        self.script = script
        self.fail_at = fail_at
        self.interrupt_at = interrupt_at
        self.frame = -1
        self.videos = 0

    def start_video(self):
        self.frame = -1
        self.videos += 1

    def update(self, frame):
        self.frame += 1
        if self.fail_at is not None and self.frame == self.fail_at and self.videos == 1:
            raise RuntimeError("decoder exploded")
        if self.interrupt_at is not None and self.frame == self.interrupt_at:
            raise KeyboardInterrupt
        return [Detection(tid, box, 0.9) for tid, box, frames in self.script.values() if self.frame in frames]


def make_run(tmp_path: Path, tracker=None, config=CONFIG) -> tuple[TrackingRun, StatusFile]:
    status = StatusFile(tmp_path / "status.json")
    run = TrackingRun(
        config,
        tracker or ScriptedTracker(),
        tmp_path / "persons",
        SectionReporter(status, "counting", 0),
        model_name="scripted",
        show_progress=False,
    )
    return run, status


def load_metadata(folder: Path) -> dict:
    return json.loads((folder / "track.json").read_text())


def test_one_folder_per_real_track_with_exact_metadata_and_crops(tmp_path):
    video = write_video(tmp_path / "hall.avi", 80)
    run, status = make_run(tmp_path)
    result = run.run([video])

    video_result = result.videos[0]
    assert (video_result.state, video_result.persons, video_result.tracks, video_result.frames) == ("done", 4, 5, 80)
    assert (video_result.too_short, video_result.not_confident, video_result.low_resolution) == (1, 0, 2)
    folders = {load_metadata(f)["tracker_id"]: f for f in (tmp_path / "persons").glob("id_*")}
    assert sorted(folders) == [1, 2, 4, 5]  # every track but the 3-frame blip
    walker, companion = load_metadata(folders[1]), load_metadata(folders[2])
    assert (walker["tracker_id"], walker["first_frame"], walker["last_frame"], walker["segments"]) == (
        1,
        0,
        59,
        [[0, 59]],
    )
    assert (companion["tracker_id"], companion["first_frame"], companion["last_frame"]) == (2, 10, 40)
    assert walker["run_id"] == companion["run_id"] == result.run_id
    assert walker["video"] == str(video.resolve()) and walker["fps"] == 10.0 and walker["frame_size"] == [320, 240]
    assert walker["complete"] is True and walker["first_time_s"] == 0.0 and walker["last_time_s"] == 5.9

    for folder, meta in zip((folders[1], folders[2]), (walker, companion), strict=True):
        listed = {c["file"] for c in meta["crops"]}
        on_disk = {p.name for p in folder.glob("*.jpg")}
        assert listed == on_disk and len(on_disk) >= 2
        for crop in meta["crops"]:
            image = cv2.imread(str(folder / crop["file"]))
            x1, y1, x2, y2 = crop["box"]
            assert image.shape == (y2 - y1, x2 - x1, 3)
            # each frame of the generated video has brightness = its index: the crop is from that frame
            assert abs(image.mean() - crop["frame"]) <= 2
            assert crop["file"] == f"hall_f{crop['frame']:06d}.jpg"
    # 60 frames at 10 fps with a 0.5 s interval: one crop per 5 frames
    assert [c["frame"] for c in walker["crops"]] == list(range(0, 60, 5))

    section = status.read_section("counting")
    assert section["state"] == "running"  # the script, not the run, declares the end
    assert (section["persons"], section["frames_done"], section["frames_total"]) == (4, 80, 80)
    assert section["videos"][0]["persons"] == 4 and section["videos"][0]["too_short"] == 1


def test_persons_seen_only_small_or_cut_off_are_counted_with_their_best_crops_marked(tmp_path):
    video = write_video(tmp_path / "hall.avi", 80)
    run, _ = make_run(tmp_path)
    run.run([video])
    by_tracker = {load_metadata(f)["tracker_id"]: f for f in (tmp_path / "persons").glob("id_*")}
    walker, edge, tiny = (load_metadata(by_tracker[t]) for t in (1, 4, 5))
    assert walker["good_crops"] is True and not any("at_edge" in c or "low_resolution" in c for c in walker["crops"])
    assert edge["good_crops"] is False and all(c.get("at_edge") for c in edge["crops"])
    assert tiny["good_crops"] is False and all(c.get("low_resolution") for c in tiny["crops"])
    for meta, folder in ((edge, by_tracker[4]), (tiny, by_tracker[5])):
        # its best poor crops, spread over the track, at most the reserve's size, all on disk
        assert 1 <= len(meta["crops"]) <= 8
        assert {c["file"] for c in meta["crops"]} == {p.name for p in folder.glob("*.jpg")}
        assert meta["frames_seen"] == 30 and meta["complete"] is True


def test_a_track_that_gives_good_crops_later_keeps_only_those(tmp_path):
    video = write_video(tmp_path / "v.avi", 60)
    # far away (small) for 20 frames, then close: the small crops are not needed
    script = {"approaching": (1, (100, 100, 110, 120), range(0, 20)), "close": (1, (100, 20, 160, 220), range(20, 60))}

    class Approaching(ScriptedTracker):
        def update(self, frame):
            self.frame += 1
            return [Detection(1, box, 0.9) for _, box, frames in script.values() if self.frame in frames]

    run, _ = make_run(tmp_path, Approaching())
    run.run([video])
    (folder,) = (tmp_path / "persons").glob("id_*")
    meta = load_metadata(folder)
    assert meta["good_crops"] is True and min(c["frame"] for c in meta["crops"]) >= 20
    assert not any(c.get("low_resolution") for c in meta["crops"])


def test_two_videos_never_share_a_folder_even_with_the_same_tracker_ids(tmp_path):
    videos = [write_video(tmp_path / f"cam{i}.avi", 80) for i in (1, 2)]
    run, _ = make_run(tmp_path)
    result = run.run(videos)
    assert [v.person_ids for v in result.videos] == [[1, 2, 3, 4], [5, 6, 7, 8]]
    sources = {load_metadata(f)["video_name"] for f in (tmp_path / "persons").glob("id_*")}
    assert sources == {"cam1.avi", "cam2.avi"}
    for folder in (tmp_path / "persons").glob("id_*"):
        stems = {p.name.split("_f")[0] for p in folder.glob("*.jpg")}
        assert len(stems) == 1


def test_a_long_track_keeps_at_most_max_crops_spread_over_its_life(tmp_path):
    video = write_video(tmp_path / "long.avi", 250)
    script = {"stayer": (1, (50, 40, 110, 200), range(0, 250))}
    run, _ = make_run(
        tmp_path, ScriptedTracker(script), TrackingConfig(max_crops=8, crop_interval_s=0.1, status_interval_s=0)
    )
    run.run([video])
    frames = [c["frame"] for c in load_metadata(tmp_path / "persons" / "id_1")["crops"]]
    assert 4 <= len(frames) <= 8
    assert frames[0] == 0 and frames[-1] >= 180
    assert len(list((tmp_path / "persons" / "id_1").glob("*.jpg"))) == len(frames)


def test_a_broken_video_is_reported_and_the_others_processed(tmp_path):
    good = write_video(tmp_path / "a_good.avi", 80)
    bad = tmp_path / "b_bad.mp4"
    bad.write_text("not a video")
    also_good = write_video(tmp_path / "c_good.avi", 80)
    run, status = make_run(tmp_path)
    result = run.run([good, bad, also_good])
    assert [v.state for v in result.videos] == ["done", "failed", "done"]
    assert "cannot be opened" in result.videos[1].error
    assert result.persons == 8
    section = status.read_section("counting")
    assert [e["path"] for e in section["errors"]] == [str(bad)]
    assert section["videos_done"] == 3


def test_a_failure_inside_a_video_keeps_its_folders_consistent_and_goes_on(tmp_path):
    videos = [write_video(tmp_path / f"v{i}.avi", 80) for i in (1, 2)]
    run, _ = make_run(tmp_path, ScriptedTracker(fail_at=30))
    result = run.run(videos)
    assert [v.state for v in result.videos] == ["failed", "done"]
    assert "decoder exploded" in result.videos[0].error
    first = load_metadata(tmp_path / "persons" / "id_1")
    assert first["complete"] is False and first["last_frame"] == 29
    assert {c["file"] for c in first["crops"]} == {p.name for p in (tmp_path / "persons" / "id_1").glob("*.jpg")}


def test_ctrl_c_writes_what_was_chosen_before_stopping(tmp_path):
    video = write_video(tmp_path / "v.avi", 80)
    run, _ = make_run(tmp_path, ScriptedTracker(interrupt_at=30))
    with pytest.raises(KeyboardInterrupt):
        run.run([video])
    for folder in (tmp_path / "persons").glob("id_*"):
        meta = load_metadata(folder)
        assert meta["complete"] is False
        assert {c["file"] for c in meta["crops"]} == {p.name for p in folder.glob("*.jpg")}


def test_an_unwritable_persons_folder_stops_the_run_with_an_output_error(tmp_path, readonly_dir):
    video = write_video(tmp_path / "v.avi", 80)
    status = StatusFile(tmp_path / "status.json")
    run = TrackingRun(
        CONFIG,
        ScriptedTracker(),
        readonly_dir,
        SectionReporter(status, "counting", 0),
        model_name="scripted",
        show_progress=False,
    )
    with pytest.raises(OutputError, match="cannot"):
        run.run([video])


def test_the_metadata_handed_to_the_writer_thread_is_a_snapshot(tmp_path):
    from reid.tracking.crops import TrackSampler
    from reid.tracking.tracks import RunContext, TrackRecord
    from reid.tracking.videos import VideoInfo

    record = TrackRecord(7, TrackSampler(max_crops=5, window=1), TrackSampler(max_crops=5, window=1))
    for frame in (0, 1, 2):
        record.see(frame)
    info = VideoInfo(tmp_path / "v.avi", 80, 10.0, 320, 240)
    metadata = record.to_metadata(info, RunContext("run", CONFIG, "scripted"), complete=False, video_fingerprint="f")
    record.see(3)  # the track goes on in the main thread while the writer thread serialises the metadata
    record.see(9)
    assert metadata["segments"] == [[0, 2]] and metadata["last_frame"] == 2


def test_by_default_a_track_must_last_a_second_to_be_counted(tmp_path):
    video = write_video(tmp_path / "v.avi", 40)  # 10 fps
    script = {"brief": (1, (50, 40, 110, 200), range(0, 8)), "stays": (2, (150, 40, 210, 200), range(0, 12))}
    run, _ = make_run(tmp_path, ScriptedTracker(script), TrackingConfig(status_interval_s=0))
    result = run.run([video]).videos[0]
    assert (result.persons, result.too_short, result.min_frames) == (1, 1, 10)
    assert [load_metadata(f)["tracker_id"] for f in (tmp_path / "persons").glob("id_*")] == [2]


class StagedTracker(ScriptedTracker):
    """The scripted tracker in the three steps of a real one, its detector in ``copies``; counts the calls
    running at once. The first ``copies`` calls wait for each other inside ``detect`` (a barrier, not a
    sleep), so copies that the loop lets overlap are seen to overlap on any machine, however busy."""

    def __init__(self, copies: int):
        super().__init__()
        self.copies = copies
        self.lock = threading.Lock()
        self.calls = self.running = self.most_at_once = 0
        self.together = threading.Barrier(copies, timeout=60)  # the timeout: a hang guard only
        self.is_idle, self.has_tentative = False, False

    def prepare(self, frame):
        return frame

    def detect(self, prepared):
        with self.lock:
            self.calls += 1
            first = self.calls <= self.copies
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        if first:
            self.together.wait()
        with self.lock:
            self.running -= 1
        return prepared

    def track(self, frame, prepared, raw):
        return self.update(frame)


@pytest.mark.parametrize("copies", [1, 2])
def test_copies_of_the_detector_work_at_once_and_the_gate_sees_the_tracks_two_frames_back(
    tmp_path, monkeypatch, copies
):
    """With the detector in copies, successive frames are detected at once, and the people counted are
    the same; the gate is told what the tracker held two frames back, whatever the copies (never a
    state that depends on timing or on the machine)."""
    from reid.tracking.gate import DETECT

    told = []

    class TellingGate:
        skipped = 0
        stride = 1

        def decide(self, frame, tracks):
            told.append([tuple(box) for box in tracks().boxes])
            return DETECT

    monkeypatch.setattr("reid.tracking.frames.gate_for", lambda *args: TellingGate())
    tracker = StagedTracker(copies)
    run, _ = make_run(tmp_path, tracker)
    result = run.run([write_video(tmp_path / "hall.avi", 80)])

    assert result.videos[0].persons == 4 and result.videos[0].frames == 80
    assert tracker.most_at_once == copies
    boxes = [[box for _, box, frames in SCRIPT.values() if frame in frames] for frame in range(80)]
    assert told == [[]] * 2 + boxes[:78]


class PixelDetector:
    """A tracker whose detector finds the one dark box of the frame (``walking_video``): the boxes of
    frames it never saw can be checked against where the box really was."""

    copies = 1
    is_idle, has_tentative = False, False

    def __init__(self):
        self.detected = 0

    def start_video(self):
        pass

    def prepare(self, frame):
        return frame

    def detect(self, prepared):
        self.detected += 1
        columns = np.flatnonzero((prepared[:, :, 0] < 60).mean(axis=0) > 0.25)
        rows = np.flatnonzero((prepared[:, :, 0] < 60).mean(axis=1) > 0.05)
        return (float(columns[0]), float(rows[0]), float(columns[-1] + 1), float(rows[-1] + 1))

    def track(self, frame, prepared, raw):
        return [Detection(1, raw, 0.9)]


def walking_video(path: Path, frames: int, fps: float) -> Path:
    """A dark 40x120 box walking 4 px a frame across a light 320x240 video."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 240))
    for i in range(frames):
        image = np.full((240, 320, 3), 200, np.uint8)
        image[60:180, 20 + 4 * i : 60 + 4 * i] = 20
        writer.write(image)
    writer.release()
    return path


def test_with_a_detection_rate_frames_between_get_interpolated_boxes_and_no_crops(tmp_path):
    """--detect-fps 10 on a 30 fps video: a third of the frames detected; every frame between has the
    walker's box, interpolated between the detections around it, where it really was; crops come from
    detected frames only; after the last detection the last boxes stand."""
    tracker = PixelDetector()
    config = dataclasses.replace(CONFIG, detect_fps=10.0)
    (tmp_path / "mot").mkdir()
    status = StatusFile(tmp_path / "status.json")
    run = TrackingRun(
        config,
        tracker,
        tmp_path / "persons",
        SectionReporter(status, "counting", 0),
        model_name="pixels",
        show_progress=False,
        mot_dir=tmp_path / "mot",
    )
    result = run.run([walking_video(tmp_path / "walk.avi", 50, 30.0)])

    video = result.videos[0]
    assert video.frames == 50 and video.persons == 1
    assert tracker.detected == 17 and video.skipped_frames == 33  # frames 0, 3, ..., 48
    rows = {row.frame - 1: row for row in read_mot(video.mot_file)}
    assert sorted(rows) == list(range(50))
    for index in range(49):  # MJPG blurs the edges by a pixel at most
        assert abs(rows[index].x - (20 + 4 * index)) <= 1.5 and abs(rows[index].w - 40) <= 2
    assert abs(rows[49].x - rows[48].x) < 1e-6  # nothing detected after frame 48
    crops = load_metadata(tmp_path / "persons" / "id_1")["crops"]
    assert crops and all(crop["frame"] % 3 == 0 for crop in crops)
