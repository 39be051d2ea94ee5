"""The detector is skipped only where nothing can have changed."""

from __future__ import annotations

import numpy as np

from reid.tracking.gate import (
    BETWEEN,
    DETECT,
    REPEAT,
    SKIP,
    TRACKS_BEHIND,
    AlwaysDetect,
    MotionGate,
    Tracks,
    detect_stride,
    gate_for,
)

PERSON = (300, 100, 340, 260)  # a box in a 640x360 frame


def frame(person_x: int | None = None, noise: int = 0, seed: int = 0) -> np.ndarray:
    """A grey street with (optionally) a dark person at ``person_x`` and some sensor noise."""
    image = np.full((360, 640, 3), 128, np.uint8)
    if noise:
        image = np.clip(image + np.random.default_rng(seed).integers(-noise, noise + 1, image.shape), 0, 255)
        image = image.astype(np.uint8)
    if person_x is not None:
        image[100:260, person_x : person_x + 40] = 30
    return image


def known(asked: list[int] | None = None, **state):
    """What the tracker holds, as the tracking stage tells the gate when asked (how many frames back
    the gate asked about goes to ``asked``)."""

    def tracks(back: int = TRACKS_BEHIND) -> Tracks:
        if asked is not None:
            asked.append(back)
        return Tracks(**state)

    return tracks


IDLE = known(idle=True)


def test_an_empty_still_scene_is_skipped_but_looked_at_every_second():
    gate = MotionGate(fps=10)
    decisions = [gate.decide(frame(noise=3, seed=k), IDLE) for k in range(25)]
    assert decisions[0] == DETECT  # nothing to compare with yet
    assert decisions[1:10] == [SKIP] * 9 and decisions[10] == DETECT  # at least once a second
    assert gate.skipped == 22


def test_someone_coming_into_view_is_detected_at_once():
    gate = MotionGate(fps=10)
    assert gate.decide(frame(), IDLE) == DETECT
    assert gate.decide(frame(), IDLE) == SKIP
    assert gate.decide(frame(person_x=600), IDLE) == DETECT  # a person at the border: pixels moved


def test_people_standing_still_are_repeated_and_one_who_moves_is_detected():
    gate = MotionGate(fps=10)
    assert gate.decide(frame(person_x=300), known(idle=False)) == DETECT
    assert gate.decide(frame(person_x=300, noise=3), known(idle=False, boxes=[PERSON])) == REPEAT
    # a small step: too few pixels of the whole frame, but many of the person's own box
    assert gate.decide(frame(person_x=303), known(idle=False, boxes=[PERSON])) == DETECT


def test_a_person_just_found_is_detected_again_until_the_tracker_confirms_them():
    gate = MotionGate(fps=10)
    assert gate.decide(frame(person_x=300), known(idle=False, tentative=True)) == DETECT
    # standing still, not yet among the tracked boxes: the next frame must still be detected
    assert gate.decide(frame(person_x=300), known(idle=False, tentative=True)) == DETECT
    assert gate.decide(frame(person_x=300), known(idle=False, boxes=[PERSON])) == REPEAT


def test_the_tracker_is_asked_only_about_a_frame_that_barely_changed():
    """Tracking may still be busy with the frame before: a changed frame must not wait for it."""
    asked = []

    def tracks():
        asked.append(True)
        return Tracks(idle=False, boxes=[PERSON])

    gate = MotionGate(fps=10)
    assert gate.decide(frame(), tracks) == DETECT  # the first frame
    assert gate.decide(frame(person_x=300), tracks) == DETECT  # someone walked in
    assert asked == []
    assert gate.decide(frame(person_x=300), tracks) == REPEAT
    assert asked == [True]


def test_no_gate_when_asked_or_when_the_tracker_cannot_say_it_is_idle():
    class Plain:
        pass

    class Idle:
        is_idle = True

    assert isinstance(gate_for(False, Idle(), 10.0), AlwaysDetect)
    assert isinstance(gate_for(True, Plain(), 10.0), AlwaysDetect)
    assert isinstance(gate_for(True, Idle(), 10.0), MotionGate)


def test_a_small_person_far_away_in_a_large_frame_is_noticed_and_noise_is_not():
    """A 1920x1080 frame is halved twice before the last shrink: a 12x32 px person stepping into view
    must still move enough of the small image, while sensor noise must not."""
    rng = np.random.default_rng(1)
    street = np.full((1080, 1920, 3), 128, np.uint8)

    def noisy(image):
        return np.clip(image + rng.integers(-3, 4, image.shape), 0, 255).astype(np.uint8)

    gate = MotionGate(fps=25)
    assert gate.decide(noisy(street), IDLE) == DETECT
    assert gate.decide(noisy(street), IDLE) == SKIP
    walker = street.copy()
    walker[500:532, 900:912] = 40
    assert gate.decide(noisy(walker), IDLE) == DETECT


def test_the_motion_test_image_is_the_same_width_whatever_the_frame():
    from reid.tracking.gate import WIDTH, _small_grey

    for height, width in ((1080, 1920), (432, 768), (541, 959), (360, 640), (10, 100)):
        small = _small_grey(np.zeros((height, width, 3), np.uint8))
        assert small.shape == (max(1, round(height * WIDTH / width)), WIDTH)


def test_with_a_detection_rate_the_frames_between_detections_are_left_to_interpolation():
    """--detect-fps 10 at 30 fps: while a tall, confirmed person walks, every third frame is detected;
    a frame that barely changed is still a repeat, and the stride starts again from each detection.
    Whether to stride is asked about the tracker six frames back, so that no detection is waited for."""
    gate = MotionGate(fps=30, stride=detect_stride(30, 10))
    asked: list[int] = []
    walking = known(asked, idle=False, boxes=[PERSON])  # 160 of the frame's 360 pixels tall
    decisions = [gate.decide(frame(person_x=100 + 12 * k), walking) for k in range(9)]
    assert decisions == [DETECT, BETWEEN, BETWEEN] * 3
    assert set(asked) == {6}
    assert gate.decide(frame(person_x=196), walking) == DETECT  # three frames on
    assert gate.decide(frame(person_x=196), walking) == REPEAT  # nothing moved: the last boxes again
    assert gate.decide(frame(person_x=208), walking) == BETWEEN  # moved, two frames after the detection
    assert gate.skipped == 8  # seven frames between, one repeat


def test_small_or_unconfirmed_people_get_every_frame_even_with_a_detection_rate():
    """Far, small people are found only in some frames, and a new track needs its second detection:
    then every frame that changed is detected (striding lost two such people on Venice-2)."""
    far = (300, 200, 310, 250)  # 50 of 360 pixels tall: under a sixth of the frame
    for tracks in (known(idle=False, boxes=[PERSON, far]), known(idle=False, tentative=True, boxes=[PERSON])):
        gate = MotionGate(fps=30, stride=3)
        assert [gate.decide(frame(person_x=100 + 12 * k), tracks) for k in range(6)] == [DETECT] * 6


def test_without_a_detection_rate_every_frame_that_changed_is_detected():
    class Idle:
        is_idle = True

    gate = gate_for(True, Idle(), 30.0, detect_fps=0)
    assert gate.stride == 1
    walking = known(idle=False, boxes=[PERSON])
    assert [gate.decide(frame(person_x=100 + 12 * k), walking) for k in range(5)] == [DETECT] * 5
    assert gate_for(True, Idle(), 10.0, detect_fps=10).stride == 1  # 10 fps: already no more than 10 a second
