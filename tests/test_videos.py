"""Finding, probing and streaming videos."""

from __future__ import annotations

import threading

import pytest

from conftest import write_video
from reid.core.errors import InputError
from reid.tracking.videos import FrameReader, find_videos, probe_video


def test_find_videos_in_a_folder_recursively_sorted_skipping_hidden(tmp_path):
    for name in ("b.mp4", "a.MKV", "sub/c.avi", "sub/d.mov", ".hidden/e.mp4", "notes.txt", "f.mp4.part"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in find_videos(tmp_path)] == [
        "a.MKV",
        "b.mp4",
        "sub/c.avi",
        "sub/d.mov",
    ]


def test_find_one_video_file(tmp_path):
    path = tmp_path / "one.mp4"
    path.write_bytes(b"x")
    assert find_videos(path) == [path]


@pytest.mark.parametrize(
    "setup, fragment",
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: p, "no videos in"),
    ],
)
def test_find_videos_errors(tmp_path, setup, fragment):
    with pytest.raises(InputError, match=fragment):
        find_videos(setup(tmp_path))


def test_probe_the_real_video(video):
    info = probe_video(video)
    assert (info.width, info.height, info.fps, info.frame_count) == (768, 432, 10.0, 1394)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "is empty"),
        (b"this is a text file, not a video\n" * 10, "cannot be opened as a video"),
    ],
)
def test_probe_rejects_files_that_are_not_videos(tmp_path, content, fragment):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError, match=fragment):
        probe_video(path)


def test_frame_reader_yields_every_frame_in_order(tmp_path):
    path = write_video(tmp_path / "v.avi", 25)
    with FrameReader(path) as reader:
        frames = list(reader)
    assert [i for i, _ in frames] == list(range(25))
    # MJPG is lossy: brightness i comes back as roughly i
    assert all(abs(int(f.mean()) - i) <= 2 for i, f in frames)
    assert reader.frames_read == 25 and reader.error is None


def test_frame_reader_stops_at_max_frames(tmp_path):
    path = write_video(tmp_path / "v.avi", 25)
    with FrameReader(path, max_frames=7) as reader:
        assert [i for i, _ in reader] == list(range(7))


def test_frame_reader_stops_its_thread_when_the_consumer_stops_early(tmp_path):
    path = write_video(tmp_path / "v.avi", 200)
    before = threading.active_count()
    with FrameReader(path, prefetch=2) as reader:
        for index, _ in reader:
            if index == 3:
                break
    assert threading.active_count() == before
