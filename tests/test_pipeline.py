"""The tracking stage's threads: the model's three steps overlap yet track exactly as ultralytics'
own loop, and the worker keeps order, hands errors back and stops on Ctrl-C."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from conftest import DATA_DIR, _require, wait_until
from reid.tracking.pipeline import Detecting, InOrder, WholeTracker, output_of, stages_of

VENICE = DATA_DIR / "mot" / "venice-2" / "venice-2_960x540.mp4"
HANG_GUARD_S = 60  # how long a thread waits for the test's signal before it gives up: a hang guard only


def test_items_are_handled_in_order_on_another_thread():
    seen, threads = [], set()

    def handle(item):
        time.sleep(0.001 * (item % 3))  # uneven work must not reorder anything
        seen.append(item)
        threads.add(threading.current_thread().name)

    with InOrder(handle) as worker:
        for item in range(50):
            worker.put(item)
    assert seen == list(range(50))
    assert threads == {"tracking"} and not worker.thread.is_alive()


def test_wait_for_returns_once_the_first_items_are_handled_while_later_ones_still_run():
    release = {item: threading.Event() for item in range(3)}
    seen = []

    def handle(item):
        release[item].wait(HANG_GUARD_S)
        seen.append(item)

    with InOrder(handle, depth=4) as worker:
        for item in range(3):
            worker.put(item)
        release[0].set()
        release[1].set()
        worker.wait_for(2)
        assert seen == [0, 1]  # the third is still held back
        release[2].set()
    assert seen == [0, 1, 2]


def test_copies_of_the_detector_run_at_once_and_their_outputs_come_back_in_order():
    # frames 0 and 1 meet inside detect (so the two copies run at once, or the barrier breaks),
    # then frame 0 waits until frame 1 is done: a later frame finishes first, whatever the machine
    both_inside, second_done = threading.Barrier(2, timeout=HANG_GUARD_S), threading.Event()

    def detect(item):
        if item in (0, 1):
            both_inside.wait()
        if item == 0 and not second_done.wait(HANG_GUARD_S):
            raise TimeoutError("hang guard: frame 1 never finished")
        if item == 1:
            second_done.set()
        return item * 10

    with Detecting(detect, copies=2) as detecting:
        pending = [detecting(item) for item in range(8)]
        assert [output_of(p) for p in pending] == [item * 10 for item in range(8)]
    assert not both_inside.broken

    with Detecting(detect, copies=1) as detecting:  # one copy: in the calling thread, the output itself
        assert detecting(3) == 30


def test_an_error_in_a_copy_of_the_detector_reaches_the_tracking_step():
    def detect(item):
        if item == 2:
            raise RuntimeError("interpreter failed")
        return item

    with Detecting(detect, copies=2) as detecting:
        pending = [detecting(item) for item in range(4)]
        assert output_of(pending[1]) == 1
        with pytest.raises(RuntimeError, match="interpreter failed"):
            output_of(pending[2])


def test_leaving_by_an_exception_drops_the_detections_not_started():
    started, release = [], threading.Event()

    def detect(item):
        started.append(item)
        release.wait(HANG_GUARD_S)
        return item

    def release_once_the_rest_is_dropped(waiting):
        wait_until(lambda: all(future.cancelled() for future in waiting), "the waiting detections to be dropped")
        release.set()

    with pytest.raises(KeyboardInterrupt), Detecting(detect, copies=2) as detecting:
        pending = [detecting(item) for item in range(10)]
        wait_until(lambda: len(started) == 2, "both copies to take a frame")
        # the two running end only after Ctrl-C has dropped the others
        threading.Thread(target=release_once_the_rest_is_dropped, args=(pending[2:],), daemon=True).start()
        raise KeyboardInterrupt
    assert sorted(started) == [0, 1]


def test_an_error_in_the_worker_is_raised_in_the_caller_and_later_items_are_dropped():
    seen = []

    def handle(item):
        if item == 3:
            raise OSError("disk full")
        seen.append(item)

    with pytest.raises(OSError, match="disk full"), InOrder(handle) as worker:
        for item in range(100):
            worker.put(item)
    assert seen == [0, 1, 2]
    assert not worker.thread.is_alive()


def test_leaving_by_an_exception_drops_what_is_queued_and_ends_the_thread():
    seen, in_hand, release = [], threading.Event(), threading.Event()

    def handle(item):
        in_hand.set()
        release.wait(HANG_GUARD_S)
        seen.append(item)

    def release_once_dropping(worker):
        worker.dropping.wait(HANG_GUARD_S)
        release.set()

    with pytest.raises(KeyboardInterrupt), InOrder(handle, depth=4) as worker:
        for item in range(3):
            worker.put(item)
        assert in_hand.wait(HANG_GUARD_S)
        # the item in hand ends only after Ctrl-C has told the worker to drop the rest
        threading.Thread(target=release_once_dropping, args=(worker,), daemon=True).start()
        raise KeyboardInterrupt
    assert seen == [0]  # the item in hand when Ctrl-C came, none of those queued
    assert not worker.thread.is_alive()


def test_a_tracker_with_only_update_runs_whole_in_the_tracking_step():
    class Plain:
        def update(self, frame):
            return [frame]

    stages = stages_of(Plain())
    assert isinstance(stages, WholeTracker) and stages.prepare is None
    assert stages.track("frame", None, stages.detect(None)) == ["frame"]


@pytest.mark.parametrize("detectors", [1, 2])
def test_the_three_steps_on_their_threads_track_exactly_as_ultralytics_own_loop(detector, detectors):
    """The reader thread prepares, this thread detects (or copies of the detector, one thread each,
    detect successive frames at once), a worker tracks: the same ids and boxes as ``model.track``
    (one interpreter on every thread) frame by frame, on a busy clip with people coming and going."""
    from reid.core.config import TrackingConfig
    from reid.tracking.detector import PersonTracker, detections_of
    from reid.tracking.videos import FrameReader

    clip = _require(VENICE)
    config = TrackingConfig(model=str(detector), device="cpu", threads=2)
    ours = PersonTracker(dataclasses.replace(config, detectors=detectors))
    theirs = PersonTracker(dataclasses.replace(config, detectors=1))
    assert ours.direct is not None  # a LiteRT detector: the interpreter is called directly, not through ultralytics
    assert ours.copies == detectors and theirs.copies == 1
    ours.start_video()
    theirs.start_video()
    got, expected = [], []

    def track(item):
        frame, prepared, detected = item
        got.append([(d.track_id, d.box, d.conf) for d in ours.track(frame, prepared, output_of(detected))])

    with (
        Detecting(ours.detect, ours.copies) as detect,
        FrameReader(clip, 40, prepare=ours.prepare) as reader,
        InOrder(track, 1 + ours.copies) as worker,
    ):
        for _, frame, prepared in reader:
            worker.put((frame, prepared, detect(prepared)))
            expected.append([(d.track_id, d.box, d.conf) for d in detections_of(theirs._track(frame))])
    assert len(got) == len(expected) == 40
    assert sum(len(boxes) for boxes in expected) >= 200  # busy: several people in most frames
    for ours_frame, theirs_frame in zip(got, expected, strict=True):
        assert [i for i, _, _ in ours_frame] == [i for i, _, _ in theirs_frame]
        coordinates = [c for _, box, _ in ours_frame for c in box]
        assert coordinates == pytest.approx([c for _, box, _ in theirs_frame for c in box], abs=1e-3)


def test_the_direct_path_is_only_taken_for_a_litert_detector_it_understands():
    """Other formats, or a LiteRT model of another layout, go through ultralytics' own steps."""
    from types import SimpleNamespace

    import numpy as np

    from reid.tracking.detector import DirectLiteRT

    class Interpreter:
        def __init__(self, output_shape, input_dtype=np.float32):
            self.output_shape, self.input_dtype = output_shape, input_dtype

        def get_input_details(self):
            return [{"index": 0, "shape": np.array([1, 640, 640, 3]), "dtype": self.input_dtype}]

        def get_output_details(self):
            return [{"index": 1, "shape": np.array(self.output_shape), "dtype": np.float32}]

    def predictor(interpreter=None, nhwc=True, classes=(0,)):
        backend = SimpleNamespace(
            interpreter=interpreter, nhwc=nhwc, intel=False, end2end=False, names=dict.fromkeys(range(80))
        )
        return SimpleNamespace(
            model=SimpleNamespace(backend=backend), args=SimpleNamespace(task="detect", classes=list(classes))
        )

    assert DirectLiteRT.of(predictor(Interpreter([1, 84, 8400]))) is not None
    assert DirectLiteRT.of(predictor(None)) is None  # another format: no interpreter
    assert DirectLiteRT.of(predictor(Interpreter([1, 84, 8400]), nhwc=False)) is None  # channels first
    assert DirectLiteRT.of(predictor(Interpreter([1, 84, 8400], np.int8))) is None  # integer input
    assert DirectLiteRT.of(predictor(Interpreter([1, 300, 6]))) is None  # boxes already suppressed
    assert DirectLiteRT.of(predictor(Interpreter([1, 84, 8400]), classes=(0, 2))) is None  # not persons only
