"""Messages from workers (processes, or Ray tasks across a network) are checked before the owner of
the persons folder acts on them: a forged one is refused with a logged error and writes nothing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from conftest import write_video
from reid.core.config import TrackingConfig
from reid.core.status import SectionReporter, StatusFile
from reid.tracking.messages import (
    DeleteCrop,
    FramesDone,
    MessageError,
    Problem,
    SaveCrop,
    VideoDone,
    VideoFailed,
    VideoTask,
    WriteMetadata,
    check,
    result_fields,
)
from reid.tracking.progress import VideoResult
from reid.tracking.run import TrackingRun

JPEG = b"\xff\xd8\xff\xe0 not really a picture, but bytes"


class ForgedPool:
    """A pool whose one worker sends what the test wrote, for every video submitted."""

    def __init__(self, messages):
        self.messages = messages
        self.tasks: list[VideoTask] = []

    def submit(self, task):
        self.tasks.append(task)

    def results(self):
        for task in self.tasks:
            yield task.index, list(self.messages)

    def stop(self):
        pass

    def close(self):
        pass


def run_with_worker_sending(tmp_path: Path, messages: list) -> tuple[TrackingRun, Path]:
    persons = tmp_path / "work" / "persons"
    run = TrackingRun(
        TrackingConfig(status_interval_s=0),
        None,
        persons,
        SectionReporter(StatusFile(tmp_path / "work" / "status.json"), "counting", 0),
        model_name="forged",
        show_progress=False,
        pool=lambda videos: ForgedPool(messages),
    )
    run.run([write_video(tmp_path / "cam.avi", 5)])
    return run, persons


def done(**fields) -> VideoDone:
    return VideoDone({**result_fields(VideoResult(video=Path("cam.avi"), state="done")), **fields})


def test_file_names_that_leave_the_persons_folder_are_refused_and_nothing_is_written_there(tmp_path, caplog):
    victim = tmp_path / "work" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("keep me")
    document = {"crops": [{"file": "cam_f000001.jpg", "frame": 1}], "complete": True}
    messages = [
        SaveCrop(1, "cam_f000001.jpg", JPEG),
        WriteMetadata(1, document),
        SaveCrop(1, "../../outside.jpg", JPEG),
        SaveCrop(1, "../outside_f000002.jpg", JPEG),
        SaveCrop(1, str(tmp_path / "absolute_f000003.jpg"), JPEG),
        DeleteCrop(1, "../../victim.txt"),
        DeleteCrop(1, "../victim.txt"),
        WriteMetadata(2, {"crops": [{"file": "../../outside.jpg"}]}),
        ("save", 1, "../../outside.jpg", JPEG),  # the untyped tuple of old
        done(persons=1, person_ids=[1], frames=5),
    ]
    with caplog.at_level(logging.ERROR):
        run, persons = run_with_worker_sending(tmp_path, messages)
    assert victim.read_text() == "keep me"
    assert [p for p in tmp_path.rglob("*") if "outside" in p.name or "absolute" in p.name] == []
    assert not (tmp_path / "outside.jpg").exists() and not (tmp_path / "work" / "outside.jpg").exists()
    (folder,) = sorted(persons.glob("id_*"))
    assert sorted(p.name for p in folder.iterdir()) == ["cam_f000001.jpg", "track.json"]
    assert json.loads((folder / "track.json").read_text())["crops"] == document["crops"]
    assert caplog.text.count("a worker's message was refused") == 7
    assert "not a crop file name: '../../outside.jpg'" in caplog.text


def test_a_result_naming_folders_the_worker_never_made_is_refused(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        run, persons = run_with_worker_sending(tmp_path, [done(person_ids=[7])])
    assert list(persons.glob("id_*")) == []  # no folder made up for it
    assert "names folders it never made" in caplog.text


def test_nothing_is_taken_after_a_videos_last_message(tmp_path, caplog):
    late = [SaveCrop(1, "cam_f000002.jpg", JPEG), done(person_ids=[1])]
    with caplog.at_level(logging.ERROR):
        run, persons = run_with_worker_sending(tmp_path, [SaveCrop(1, "cam_f000001.jpg", JPEG), done(), *late])
    (folder,) = sorted(persons.glob("id_*"))
    assert sorted(p.name for p in folder.glob("*.jpg")) == ["cam_f000001.jpg"]
    assert caplog.text.count("after the video ended was refused") == 2
    section = StatusFile(tmp_path / "work" / "status.json").read_section("counting")
    assert section["videos_done"] == 1


def test_what_a_worker_says_about_the_video_and_the_run_is_the_owners(tmp_path):
    forged = {"video_fingerprint": "another-video", "run_id": "another-run", "person_id": 99, "crops": []}
    run, persons = run_with_worker_sending(tmp_path, [WriteMetadata(1, forged), done(person_ids=[1])])
    (folder,) = sorted(persons.glob("id_*"))
    meta = json.loads((folder / "track.json").read_text())
    assert meta["video_fingerprint"] != "another-video" and len(meta["video_fingerprint"]) == 32
    assert (meta["run_id"], meta["person_id"]) == (run.context.run_id, 1)


GOOD = [
    WriteMetadata(1, {"crops": [{"file": "a_f000001.jpg"}], "complete": False}),
    SaveCrop(3, "street_cam_f001234.jpg", JPEG),
    SaveCrop(1, "über_f000001.jpg", JPEG),
    DeleteCrop(1, "a-b.c_f000010.jpg"),
    FramesDone(32, 4),
    Problem("the stream dropped"),
    VideoFailed("it failed"),
]

BAD = [
    (SaveCrop(1, "../a_f000001.jpg", JPEG), "not a crop file name"),
    (SaveCrop(1, "a/b_f000001.jpg", JPEG), "not a crop file name"),
    (SaveCrop(1, "a\\b_f000001.jpg", JPEG), "not a crop file name"),
    (SaveCrop(1, "a\0_f000001.jpg", JPEG), "not a crop file name"),
    (SaveCrop(1, ".hidden_f000001.jpg", JPEG), "not a crop file name"),
    (SaveCrop(1, "..", JPEG), "not a crop file name"),
    (SaveCrop(1, "track.json", JPEG), "not a crop file name"),
    (SaveCrop(1, "a..b_f000001.jpg", JPEG), "not a crop file name"),
    (SaveCrop(1, b"a_f000001.jpg", JPEG), "not a crop file name"),
    (SaveCrop(1, "a_f000001.jpg", "text"), "must be bytes"),
    (SaveCrop(0, "a_f000001.jpg", JPEG), "not a folder number"),
    (SaveCrop(-1, "a_f000001.jpg", JPEG), "not a folder number"),
    (SaveCrop(True, "a_f000001.jpg", JPEG), "not a folder number"),
    (SaveCrop("1", "a_f000001.jpg", JPEG), "not a folder number"),
    (DeleteCrop(1.0, "a_f000001.jpg"), "not a folder number"),
    (DeleteCrop(1, "../../etc/passwd"), "not a crop file name"),
    (WriteMetadata(1, ["not", "an", "object"]), "must be a JSON object"),
    (WriteMetadata(1, {"crops": [{"file": "../x_f000001.jpg"}]}), "not a crop file name"),
    (WriteMetadata(1, {"crops": "all"}), "list of objects"),
    (WriteMetadata(1, {"x": float("nan")}), "plain JSON"),
    (WriteMetadata(1, {"x": object()}), "plain JSON"),
    (FramesDone(-1, 0), "not a frame count"),
    (FramesDone(10**12, 0), "more frames at once"),
    (FramesDone(1, "2"), "not a person count"),
    (Problem(None), "not a message"),
    (VideoDone({"persons": -1}), "bad persons"),
    (VideoDone({"state": "exploded"}), "bad state"),
    (VideoDone({"video": "/etc/passwd"}), "unknown fields: video"),
    (VideoDone({"annotated": "/tmp/x"}), "unknown fields: annotated"),
    (VideoDone({"person_ids": [1, 1]}), "never made"),
    (VideoDone("done"), "must be a mapping"),
    (("save", 1, "a_f000001.jpg", JPEG), "not a message of a known kind: tuple"),
    (None, "not a message of a known kind"),
]


@pytest.mark.parametrize("message", GOOD, ids=lambda m: type(m).__name__)
def test_messages_the_tracker_sends_pass(message):
    assert check(message, {1, 3}) is message


@pytest.mark.parametrize(("message", "why"), BAD, ids=[f"{type(m).__name__}-{n}" for n, (m, _) in enumerate(BAD)])
def test_each_kind_of_forgery_is_refused_with_its_reason(message, why):
    with pytest.raises(MessageError, match=why.replace("\\", "\\\\")):
        check(message, {1})


def test_a_real_result_passes():
    result = VideoResult(video=Path("v.mp4"), state="done", persons=2, person_ids=[1, 2], frames=80, fps=12.5)
    assert check(VideoDone(result_fields(result)), {1, 2}).fields["person_ids"] == [1, 2]
