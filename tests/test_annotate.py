"""Annotated videos: drawing, never overwriting, and a real run with --save-video."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from conftest import clip_of, run_script
from reid.tracking.annotate import PERSON_COLOUR, TENTATIVE_COLOUR, AnnotatedVideo, draw_annotations, free_path


def colour_pixels(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 30) -> int:
    return int(np.all(np.abs(image.astype(int) - colour) <= tolerance, axis=2).sum())


def test_boxes_labels_and_count_are_drawn_on_a_copy():
    frame = np.full((240, 320, 3), 128, np.uint8)
    out = draw_annotations(
        frame, [((10, 40, 60, 200), "id_7", True), ((100, 40, 150, 200), "track 3", False)], "persons: 1"
    )
    assert np.all(frame == 128)  # the frame itself is left alone (its crops are saved from it)
    assert colour_pixels(out, PERSON_COLOUR, 5) > 100 and colour_pixels(out, TENTATIVE_COLOUR, 5) > 100
    assert colour_pixels(out[:30, :120], (0, 0, 0), 5) > 500  # the count's dark label in the corner
    assert np.all(out[220:, 200:] == 128)  # nothing drawn elsewhere


def test_an_existing_copy_is_never_overwritten(tmp_path):
    (tmp_path / "a_annotated.mp4").write_bytes(b"keep")
    (tmp_path / "a_annotated_2.mp4").write_bytes(b"keep")
    assert free_path(tmp_path, tmp_path / "videos" / "a.mp4").name == "a_annotated_3.mp4"


def test_a_copy_that_appears_while_writing_is_kept_and_the_new_one_named_after_the_video(tmp_path):
    video = AnnotatedVideo(tmp_path, tmp_path / "videos" / "a.mp4", 10.0, (64, 48))
    video.write(np.zeros((48, 64, 3), np.uint8))
    (tmp_path / "a_annotated.mp4").write_bytes(b"another run's copy")  # made by someone else meanwhile
    assert video.close() == tmp_path / "a_annotated_2.mp4"  # not a_annotated_annotated.mp4
    assert (tmp_path / "a_annotated.mp4").read_bytes() == b"another run's copy"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["a_annotated.mp4", "a_annotated_2.mp4"]


def test_two_copies_of_one_video_written_at_once_do_not_share_a_file(tmp_path):
    first = AnnotatedVideo(tmp_path, tmp_path / "a.mp4", 10.0, (64, 48))
    second = AnnotatedVideo(tmp_path, tmp_path / "a.mp4", 10.0, (64, 48))
    for _ in range(3):
        first.write(np.zeros((48, 64, 3), np.uint8))
    second.write(np.full((48, 64, 3), 255, np.uint8))
    paths = {first.close(), second.close()}
    assert paths == {tmp_path / "a_annotated.mp4", tmp_path / "a_annotated_2.mp4"}
    assert sorted(frame_count(p)[1] for p in paths) == [1, 3]


def frame_count(path) -> tuple[int, int, tuple[int, int]]:
    """(count stated by the container, frames actually decoded, size)."""
    capture = cv2.VideoCapture(str(path))
    stated = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    decoded = 0
    while capture.read()[0]:
        decoded += 1
    capture.release()
    return stated, decoded, size


@pytest.fixture(scope="module")
def short_video(tmp_path_factory, video):
    """Frames 40-199 of the sample video (one person walks through), as its own mp4."""
    return clip_of(video, tmp_path_factory.mktemp("short") / "hall way.mp4", start=40, frames=160)


@pytest.mark.slow
def test_save_video_writes_an_annotated_copy_with_every_frame(short_video, detector, tmp_path):
    proc = run_script(
        "obj_counting.py",
        "--videos",
        short_video,
        "--model",
        detector,
        "--save-video",
        "out dir",
        "--no-progress",
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    copy = tmp_path / "out dir" / "hall way_annotated.mp4"
    assert "annotated copy: out dir/hall way_annotated.mp4" in proc.stdout
    stated, decoded, size = frame_count(short_video)
    assert frame_count(copy) == (stated, decoded, size) and decoded == 160
    # a frame where the person is tracked shows a green box and the count; the input has neither
    original, annotated = cv2.VideoCapture(str(short_video)), cv2.VideoCapture(str(copy))
    for capture in (original, annotated):
        capture.set(cv2.CAP_PROP_POS_FRAMES, 110)
    plain, drawn = original.read()[1], annotated.read()[1]
    assert colour_pixels(drawn, PERSON_COLOUR) > 3 * colour_pixels(plain, PERSON_COLOUR) + 200
    assert colour_pixels(drawn[:25, :100], (0, 0, 0), 40) > 1000
    assert not list((tmp_path / "out dir").glob(".*partial*"))

    first = hashlib.sha256(copy.read_bytes()).hexdigest()
    again = run_script(  # the same video again (--reprocess, or it would be skipped as done)
        "obj_counting.py",
        "--videos",
        short_video,
        "--model",
        detector,
        "--save-video",
        "out dir",
        "--reprocess",
        "--no-progress",
        cwd=tmp_path,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == first
    assert (tmp_path / "out dir" / "hall way_annotated_2.mp4").is_file()


@pytest.mark.slow
def test_without_the_flag_no_video_is_written(short_video, detector, tmp_path):
    proc = run_script(
        "obj_counting.py",
        "--videos",
        short_video,
        "--model",
        detector,
        "--max-frames",
        20,
        "--no-progress",
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "annotated").exists() and "annotated copy" not in proc.stdout


def test_an_unwritable_video_folder_is_one_line(short_video, detector, tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    proc = run_script(
        "obj_counting.py",
        "--videos",
        short_video,
        "--model",
        detector,
        "--save-video",
        "taken",
        "--no-progress",
        cwd=tmp_path,
        timeout=300,
    )
    from conftest import assert_clean_error

    assert_clean_error(proc, 1, "taken exists and is not a folder (--save-video)")
    assert not (tmp_path / "status.json").exists()  # found before any work: no stage is marked failed
