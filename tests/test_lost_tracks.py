"""A lost track ages with the video, not with the detector's calls: while the still-frame gate
repeats frames, the tracker's clock still moves, so an id lost in a still scene is given up after
``track_buffer`` frames and not handed to the next person who walks up to where it was."""

from __future__ import annotations

import json

import cv2
import pytest

from conftest import run_script

# (first, last + 1) frames of the shared indoor video: a person stands at the table and vanishes
# (a cut), five seconds of the empty room, then another person walks in, stands there and leaves.
SEGMENTS = [(55, 120), (0, 50), (225, 460)]


def spliced(video, path):
    capture = cv2.VideoCapture(str(video))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), capture.get(cv2.CAP_PROP_FPS), size)
    for start, end in SEGMENTS:
        capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        for _ in range(start, end):
            ok, frame = capture.read()
            assert ok
            writer.write(frame)
    writer.release()
    capture.release()
    return path


@pytest.mark.slow
def test_an_id_lost_in_a_still_scene_is_not_given_to_the_next_person(tmp_path, video, detector):
    clip = spliced(video, tmp_path / "cut.mp4")
    proc = run_script("obj_counting.py", "--videos", clip, "--model", detector, "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    second_person_from = SEGMENTS[0][1] - SEGMENTS[0][0] + SEGMENTS[1][1] - SEGMENTS[1][0]  # frame 115 of the clip
    spans = []
    for metadata in sorted((tmp_path / "persons").glob("id_*/track.json")):
        track = json.loads(metadata.read_text())
        spans.append((track["first_frame"], track["last_frame"]))
    # one folder per person, and none holds both: before, the first person's id was revived on the second
    assert len(spans) == 2, spans
    assert all(last < second_person_from or first >= second_person_from for first, last in spans), spans
