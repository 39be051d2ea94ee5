"""The baseline for the tracking benchmark: ultralytics' own plain tracking loop.

    python benchmarks/plain_track.py MODEL VIDEO FRAMES {all,default}

``model.track(source, stream=True, persist=True)``, same model, tracker and frames as
obj_counting.py, no crops saved. ``all`` gives the detector every core as obj_counting.py
does; ``default`` keeps ultralytics' own thread count (one less than the cores). Prints
``FPS <frames per second>`` from opening the video to the last frame, as obj_counting.py
measures its own (the model is loaded and warmed up before, in both).
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")


def main() -> None:
    model_path, video, frames, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if threads == "all":
        import ultralytics.nn.backends.litert as litert_backend
        import ultralytics.utils.torch_utils as torch_utils

        litert_backend.NUM_THREADS = torch_utils.NUM_THREADS = os.cpu_count()
    import numpy as np
    from ultralytics import YOLO

    model = YOLO(model_path, task="detect")
    model.predict(np.zeros((640, 640, 3), np.uint8), verbose=False)  # load the model, as obj_counting.py does
    if threads == "all":
        import torch

        torch.set_num_threads(os.cpu_count())
    # timed like obj_counting.py's own figure: from opening the video to the last frame
    start = time.perf_counter()
    count = 0
    for _ in model.track(
        source=video,
        stream=True,
        persist=True,
        classes=[0],
        conf=0.1,
        tracker="bytetrack.yaml",
        imgsz=640,
        verbose=False,
    ):
        count += 1
        if count >= frames:
            break
    print(f"FPS {count / (time.perf_counter() - start):.3f}")


if __name__ == "__main__":
    main()
