"""The ceiling of the tracking benchmark: the detector alone, on frames already decoded and letterboxed.

    python benchmarks/detector_alone.py MODEL VIDEO FRAMES [THREADS [DETECTORS]]

Loads the detector exactly as obj_counting.py does (``reid.tracking.detector.PersonTracker``: same
threads, same copies of the interpreter), letterboxes up to ``DISTINCT`` frames of VIDEO, then times
FRAMES calls of the model three ways:

* ``FPS``: the interpreters alone, as obj_counting.py runs them (with ``--detectors`` copies, each
  on a thread of its own, all calling at once): LiteRT's own ``invoke`` on an input set
  beforehand, the strictest ceiling: nothing but the model's own arithmetic.
* ``FPS_ONE``: one interpreter on every thread (how ultralytics runs a LiteRT detector, and how
  obj_counting.py did before it had copies), invoked the same way.
* ``FPS_ULTRALYTICS``: ultralytics' model call (``predictor.inference`` on its prepared tensor: the
  input and output copied and converted around the interpreter call), the ceiling of a loop built
  on ultralytics' predictor.

For a detector that is not a LiteRT file, all three are ultralytics' call. No decoding, no NMS, no
tracker, no crops: nothing a tracking run could leave out. THREADS, DETECTORS: as ``--threads`` and
``--detectors`` (0, the default: every core; two copies where there are two threads).
"""

from __future__ import annotations

import sys
import threading
import time

import cv2

DISTINCT = 32  # prepared frames kept in memory (5 MB each at 640 px); the model's cost does not depend on content


def main() -> None:
    model, video, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    detectors = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    from reid.core.config import TrackingConfig
    from reid.tracking.detector import PersonTracker
    from reid.tracking.litert import _interpreter_like

    tracker = PersonTracker(TrackingConfig(model=model, device="cpu", threads=threads, detectors=detectors))
    capture = cv2.VideoCapture(video)
    decoded = []
    while len(decoded) < min(DISTINCT, frames):
        ok, frame = capture.read()
        if not ok:
            break
        decoded.append(frame)
    capture.release()
    if not decoded:
        raise SystemExit(f"no frame could be read from {video}")
    tracker.update(decoded[0])  # sets the predictor up for this frame size, as the first tracked frame does
    predictor, direct = tracker.model.predictor, tracker.direct
    if direct is not None:  # ultralytics' call and FPS_ONE on one interpreter on every thread
        one = _interpreter_like(direct.interpreter, model, tracker.threads)
        predictor.model.backend.interpreter = one
    inputs = [predictor.preprocess([frame]) for frame in decoded]
    predictor.inference(inputs[0])
    start = time.perf_counter()
    for index in range(frames):
        predictor.inference(inputs[index % len(inputs)])
    ultralytics_fps = copies_fps = one_fps = frames / (time.perf_counter() - start)
    if direct is not None:
        letterboxed = tracker.prepare(decoded[0])
        for _ in range(direct.copies):  # sets every interpreter's input; the model's cost does not depend on it
            direct.detect(letterboxed)
        interpreters = [direct.free.get() for _ in range(direct.copies)]
        copies_fps = invokes_per_second(interpreters, frames)
        one_fps = invokes_per_second([one], frames)  # its input was set by ultralytics' calls
    print(f"FPS {copies_fps:.3f}")
    print(f"FPS_ONE {one_fps:.3f}")
    print(f"FPS_ULTRALYTICS {ultralytics_fps:.3f}")


def invokes_per_second(interpreters: list, calls: int) -> float:
    """``calls`` invocations by ``interpreters``, each on a thread of its own, all at once (LiteRT's
    ``invoke`` releases the GIL); each takes the next call when free, as obj_counting.py's copies do."""
    for interpreter in interpreters:
        interpreter.invoke()
    left = iter(range(calls))
    lock = threading.Lock()

    def work(interpreter) -> None:
        while True:
            with lock:
                if next(left, None) is None:
                    return
            interpreter.invoke()

    workers = [threading.Thread(target=work, args=(interpreter,)) for interpreter in interpreters]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return calls / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
