"""The ceiling of the tracking benchmark: the detector alone, on frames already decoded and letterboxed.

    python benchmarks/detector_alone.py MODEL VIDEO FRAMES [THREADS]

Loads the detector exactly as obj_counting.py does (``reid.tracking.detector.PersonTracker``: same
threads, same interpreter), letterboxes up to ``DISTINCT`` frames of VIDEO, then times FRAMES calls
of the model two ways, cycling over the frames:

* ``FPS``: the interpreter alone (LiteRT's ``invoke`` on an input set beforehand), the strictest
  ceiling: nothing but the model's own arithmetic. For a detector that is not a LiteRT file, the
  same as the next line.
* ``FPS_ULTRALYTICS``: ultralytics' model call (``predictor.inference`` on its prepared tensor: the
  input and output copied and converted around the interpreter call), the ceiling of a loop built
  on ultralytics' predictor.

No decoding, no NMS, no tracker, no crops: nothing a tracking run could leave out. THREADS: the
detector's threads, as ``--threads`` (0, the default: every core).
"""

from __future__ import annotations

import sys
import time

import cv2

DISTINCT = 32  # prepared frames kept in memory (5 MB each at 640 px); the model's cost does not depend on content


def main() -> None:
    model, video, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    from reid.core.config import TrackingConfig
    from reid.tracking.detector import PersonTracker

    tracker = PersonTracker(TrackingConfig(model=model, device="cpu", threads=threads))
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
    predictor = tracker.model.predictor
    inputs = [predictor.preprocess([frame]) for frame in decoded]
    predictor.inference(inputs[0])
    start = time.perf_counter()
    for index in range(frames):
        predictor.inference(inputs[index % len(inputs)])
    ultralytics_fps = frames / (time.perf_counter() - start)
    interpreter_fps = ultralytics_fps
    if tracker.direct is not None:
        interpreter = tracker.direct.interpreter
        tracker.direct.detect(tracker.prepare(decoded[0]))  # sets the input; the model's cost does not depend on it
        interpreter.invoke()
        start = time.perf_counter()
        for _ in range(frames):
            interpreter.invoke()
        interpreter_fps = frames / (time.perf_counter() - start)
    print(f"FPS {interpreter_fps:.3f}")
    print(f"FPS_ULTRALYTICS {ultralytics_fps:.3f}")


if __name__ == "__main__":
    main()
