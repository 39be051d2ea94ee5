"""The YOLOv8 person tracker: ultralytics lives here (and in ``litert.py``, for a LiteRT detector) only.

``PersonTracker`` turns one frame at a time into tracked person boxes. Frames come from
our own reader (see ``videos.FrameReader``), so we know exactly which frame each box belongs to.
Tracking a frame is three steps, which the tracking stage runs on three threads so that they
overlap (``pipeline.py``): ``prepare`` (letterbox), ``detect`` (the model call) and ``track``
(non-maximum suppression, the tracker); ``update`` runs all three. They are ultralytics' own
predictor steps, except for a LiteRT (.tflite) detector, whose interpreter is called directly
(``litert.DirectLiteRT``, which also makes its copies for ``--detectors``). Both give the same
boxes and ids (tests/test_pipeline.py).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import TRACKERS, TrackingConfig
from ..core.errors import ModelNotFoundError, ReidError, first_line
from ..core.quiet import native_noise_held_back
from .detections import Detection
from .litert import PERSON_CLASS, DirectLiteRT, detector_copies

log = logging.getLogger(__name__)

# ultralytics' own tracking-mode detection threshold: low-confidence boxes let ByteTrack
# keep existing tracks through partial occlusion; new tracks still need 0.25 (bytetrack.yaml).
TRACKER_INPUT_CONF = 0.1


def configure_offline() -> None:
    """Keep ultralytics from probing the network, sending analytics or pip-installing at run
    time. Must run before ``import ultralytics``. Weight downloads still work when online:
    ultralytics tries them and only skips its retries when offline. Users may override
    either variable in their environment."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_VERBOSE", "False")


TORCH_FORMATS = {"pt", "torchscript"}  # detector formats that run on torch itself


class PersonTracker:
    """Loads a YOLO model once and tracks persons frame by frame."""

    def __init__(self, config: TrackingConfig) -> None:
        self.tracker_config = TRACKERS[config.tracker]
        self.conf = min(config.conf, TRACKER_INPUT_CONF)
        self.imgsz = config.imgsz
        self.threads = config.threads or os.cpu_count() or 1
        self.detectors_asked = config.detectors
        self.detectors = detector_copies(self.threads, config.detectors)
        self.device = _torch_device(config.device)
        self.direct: DirectLiteRT | None = None  # set by the warm-up for a LiteRT detector
        with native_noise_held_back():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" and the like
            self.model = _load_model(config.model, self.threads)
            self._warm_up(config.model)

    def start_video(self) -> None:
        """Forget all tracks: the next frame starts a new video with fresh track ids."""
        predictor = getattr(self.model, "predictor", None)
        if predictor is not None and hasattr(predictor, "trackers"):
            # ultralytics recreates its trackers when none are attached (persist=True only reuses them)
            del predictor.trackers

    @property
    def copies(self) -> int:
        """How many frames ``detect`` may work on at once (from as many threads)."""
        return self.direct.copies if self.direct is not None else 1

    @property
    def is_idle(self) -> bool:
        """Whether the tracker holds no track at all, followed or lost (then a frame with nobody new
        in it changes nothing, and the detector may skip it)."""
        trackers = getattr(getattr(self.model, "predictor", None), "trackers", None)
        if not trackers:
            return True
        tracker = trackers[0]
        return not (getattr(tracker, "tracked_stracks", None) or getattr(tracker, "lost_stracks", None))

    @property
    def has_tentative(self) -> bool:
        """Whether a track was just started and waits for a second detection to be confirmed. It is
        not among the tracked boxes yet, so its moves go unseen: the detector must look again."""
        trackers = getattr(getattr(self.model, "predictor", None), "trackers", None)
        if not trackers:
            return False
        return any(not getattr(t, "is_activated", True) for t in getattr(trackers[0], "tracked_stracks", ()))

    def hold(self) -> None:
        """A frame the tracker is not given (the gate repeats or interpolates the boxes before it): its
        clock still moves, so a lost track is given up after ``track_buffer`` frames of the video, not of
        the detector (a lost person's id would else wait through a still scene for anyone who comes);
        the tracks it follows were seen where the boxes stand."""
        trackers = getattr(getattr(self.model, "predictor", None), "trackers", None)
        for tracker in trackers or ():
            tracker.frame_id += 1
            for track in tracker.tracked_stracks:
                if track.is_activated:
                    track.frame_id = tracker.frame_id

    def update(self, frame: np.ndarray) -> list[Detection]:
        """Track persons in the next frame of the current video."""
        prepared = self.prepare(frame)
        return self.track(frame, prepared, self.detect(prepared))

    def prepare(self, frame: np.ndarray) -> Any:
        """The model's input for ``frame`` (letterboxed); safe on any thread."""
        if self.direct is not None:
            return self.direct.prepare(frame)
        import torch

        with torch.inference_mode():
            return self.model.predictor.preprocess([frame])

    def detect(self, prepared: Any) -> Any:
        """The model's raw output for a prepared frame; it leaves the tracks untouched, so it may run
        while ``track`` handles the frames before, and on ``copies`` frames at once."""
        if self.direct is not None:
            return self.direct.detect(prepared)
        import torch

        with torch.inference_mode():
            return self.model.predictor.inference(prepared)

    def track(self, frame: np.ndarray, prepared: Any, raw: Any) -> list[Detection]:
        """Tracked person boxes from the model's output for ``frame``, frames in order: what
        ``model.track`` does after the model call (ultralytics' tracker is its predictor callback)."""
        import torch

        predictor = self.model.predictor
        with torch.inference_mode():
            if not hasattr(predictor, "trackers"):  # a new video (start_video): fresh trackers
                predictor.run_callbacks("on_predict_start")
            if self.direct is not None:
                return self.direct.track(frame, raw, predictor.trackers[0])
            predictor.results = predictor.postprocess(raw, prepared, [frame])
            predictor.run_callbacks("on_predict_postprocess_end")
        return detections_of(predictor.results[0])

    def _track(self, frame: np.ndarray) -> Any:  # an ultralytics Results
        return self.model.track(
            frame,
            device=self.device,
            persist=True,
            classes=[PERSON_CLASS],
            conf=self.conf,
            imgsz=self.imgsz,
            tracker=self.tracker_config,
            verbose=False,
        )[0]

    def _warm_up(self, model: str) -> None:
        """Run one blank frame: ultralytics loads a model file lazily, so a damaged file fails
        here, before any work starts, and the first real frame is not slowed by the set-up."""
        try:
            self._track(np.zeros((self.imgsz, self.imgsz, 3), np.uint8))
        except Exception as exc:  # any failure here means the file is not a usable detector
            raise ReidError(f"cannot run model {model}: {first_line(exc)}") from None
        # ultralytics resets torch to cpu_count-1 threads while setting up its predictor. Torch runs
        # the detector only for PyTorch formats; otherwise it only pre- and post-processes, and its
        # OpenMP workers would compete with the detector's own threads (LiteRT on 2 cores: median
        # 32.0 against 29.7 frames/s over 10 alternating runs each).
        import torch

        backend = getattr(getattr(self.model.predictor, "model", None), "format", "pt")
        self.torch_threads = self.threads if backend in TORCH_FORMATS else 1
        torch.set_num_threads(self.torch_threads)
        try:
            self.direct = DirectLiteRT.of(self.model.predictor, model, self.threads, self.detectors)
        except Exception as exc:  # a copy of the interpreter could not be made (memory, a runtime of another kind)
            raise ReidError(f"cannot run model {model} in {self.detectors} copies: {first_line(exc)}") from None
        if self.detectors_asked > 1 and self.direct is None:
            log.warning(
                "--detectors %d: only a LiteRT (.tflite) detector comes in copies; this one runs once",
                self.detectors_asked,
            )
        elif self.detectors_asked > self.detectors:
            log.warning(
                "--detectors %d: each copy needs a thread of its own, so %d with --threads %d",
                self.detectors_asked,
                self.detectors,
                self.threads,
            )
        self.start_video()


def detections_of(result: Any) -> list[Detection]:
    """The tracked boxes of an ultralytics ``Results`` (none until a track is confirmed)."""
    boxes = result.boxes
    if boxes is None or boxes.id is None or len(boxes) == 0:
        return []
    ids = boxes.id.cpu().numpy().astype(int)
    xyxy = boxes.xyxy.cpu().numpy().astype(float)
    confs = boxes.conf.cpu().numpy().astype(float)
    return [Detection(int(i), (b[0], b[1], b[2], b[3]), float(c)) for i, b, c in zip(ids, xyxy, confs, strict=True)]


def _torch_device(device: str) -> str | None:
    """ultralytics' device argument for ``device``: None lets it choose; a CUDA device that torch
    does not have is one clear error (ultralytics' own is pages long)."""
    if device == "auto":
        return None
    if device.startswith("cuda"):
        import torch

        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ReidError(
                f"--device {device}: torch sees {torch.cuda.device_count()} CUDA device(s) here; install a CUDA "
                f"build of torch on a machine with an NVIDIA GPU, or use --device cpu"
            )
        return str(index)
    return "cpu"


def _load_model(model: str, threads: int) -> Any:  # an ultralytics YOLO
    configure_offline()
    # ultralytics sets numpy's print options for the whole process on import: keep the caller's
    print_options = np.get_printoptions()
    _set_ultralytics_threads(threads)
    from ultralytics import YOLO

    np.set_printoptions(**print_options)

    path = Path(model)
    # A bare name such as "yolov8n.pt" may be downloaded by ultralytics; a path that names a
    # folder or a non-PyTorch format must exist, or the download attempt is pointless.
    if not path.exists() and (path.parent != Path(".") or path.suffix != ".pt"):
        raise ModelNotFoundError(f"model file {model} not found; pass --model PATH to a YOLO weights file")
    try:
        return YOLO(str(path), task="detect")
    except ConnectionError:
        raise ModelNotFoundError(
            f"model file {model} not found and it could not be downloaded (offline?); "
            f"download it on a connected machine into this folder, or pass --model PATH"
        ) from None
    except FileNotFoundError:
        raise ModelNotFoundError(f"model file {model} not found; pass --model PATH to a YOLO weights file") from None
    except Exception as exc:  # ultralytics raises many types for a bad file; all mean "unusable model"
        raise ReidError(f"cannot load model {model}: {first_line(exc)}") from None


def _set_ultralytics_threads(threads: int) -> None:
    """ultralytics uses cpu_count-1 threads (1 on a 2-core machine); inference is ~1.7x faster
    with all of them. Set it where the LiteRT and torch backends read it."""
    import ultralytics.nn.backends.litert as litert_backend
    import ultralytics.utils.torch_utils as torch_utils

    litert_backend.NUM_THREADS = threads
    torch_utils.NUM_THREADS = threads
