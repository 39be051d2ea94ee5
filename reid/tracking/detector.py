"""The YOLOv8 person tracker: ultralytics lives here only.

``PersonTracker`` turns one frame at a time into tracked person boxes. Frames come from
our own reader (see ``videos.FrameReader``), so we know exactly which frame each box belongs to.
Tracking a frame is three steps, which the tracking stage runs on three threads so that they
overlap (``pipeline.py``): ``prepare`` (letterbox), ``detect`` (the model call) and ``track``
(non-maximum suppression, the tracker); ``update`` runs all three. They are ultralytics' own
predictor steps, except for a LiteRT (.tflite) detector, whose interpreter is called directly
(``DirectLiteRT``): the frame goes straight into the interpreter's input and only the boxes that
may be persons come out, where ultralytics' steps copy the whole input and output several times
(BENCHMARKS.md, "The detector's ceiling"). Both give the same boxes and ids (tests/test_pipeline.py).
A LiteRT detector also comes in copies (``--detectors``) that work on successive frames at once, the
threads shared out between them: their threads never wait for each other, where one interpreter's
threads meet at every layer.
"""

from __future__ import annotations

import logging
import os
import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import TRACKERS, TrackingConfig
from ..core.errors import ModelNotFoundError, ReidError, first_line
from ..core.quiet import native_noise_held_back

log = logging.getLogger(__name__)

PERSON_CLASS = 0  # COCO
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


@dataclass(frozen=True)
class Detection:
    track_id: int
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
    conf: float


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


class DirectLiteRT:
    """The model call and the steps after it for a LiteRT detector, without ultralytics' copies.

    ultralytics turns the letterboxed frame into a torch tensor, transposes it twice on its way into
    the interpreter, copies the whole output (84 rows of 8,400 candidate boxes) and scales all of it.
    Here the frame is converted once, straight into the interpreter's input, and only the candidates
    whose person score passes the threshold leave the interpreter; ultralytics' own non-maximum
    suppression, box scaling and tracker then run on them. A box that ultralytics keeps has a person
    score above the threshold (it keeps persons only, and a box's score is its best class's), so no
    kept box is lost and the boxes and ids are the same.

    With several interpreters (copies of the model, the threads shared out), ``detect`` may run on as
    many frames at once, each call taking a free interpreter. Their outputs are the same whatever an
    interpreter's threads (XNNPACK splits the work, not the arithmetic; tests/test_pipeline.py).
    """

    def __init__(self, predictor: Any, interpreters: list[Any], input_detail: dict, output_detail: dict) -> None:
        self.predictor = predictor
        self.interpreter = interpreters[0]
        self.copies = len(interpreters)
        self.free: queue.SimpleQueue = queue.SimpleQueue()  # interpreters no call is using
        for interpreter in interpreters:
            self.free.put(interpreter)
        self.input_index, self.output_index = input_detail["index"], output_detail["index"]
        self.input_hw = tuple(int(n) for n in input_detail["shape"][1:3])

    @classmethod
    def of(cls, predictor: Any, model: str | None = None, threads: int = 1, copies: int = 1) -> DirectLiteRT | None:
        """The direct path for ``predictor``'s model, or None where it does not apply: another format, a
        LiteRT model of another layout (channels first, integer input, several outputs, boxes already
        suppressed), or a tracker that needs more of the predictor than its boxes. With ``copies`` > 1,
        that many interpreters of the ``model`` file share ``threads``; the first replaces ultralytics' own."""
        backend = getattr(getattr(predictor, "model", None), "backend", None)
        interpreter = getattr(backend, "interpreter", None)
        if interpreter is None or getattr(backend, "intel", False) or not getattr(backend, "nhwc", False):
            return None
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1 or getattr(backend, "end2end", False):
            return None
        classes = len(backend.names)
        shape = tuple(outputs[0]["shape"])
        if inputs[0]["dtype"] != np.float32 or outputs[0]["dtype"] != np.float32 or shape[:2] != (1, 4 + classes):
            return None
        if predictor.args.task != "detect" or list(predictor.args.classes or []) != [PERSON_CLASS]:
            return None
        if any(hasattr(type(t), "compute_frame_extras") for t in getattr(predictor, "trackers", ())):
            return None
        interpreters = [interpreter]
        if copies > 1 and model is not None:
            interpreters = [_interpreter_like(interpreter, model, n) for n in split_threads(threads, copies)]
            backend.interpreter = interpreters[0]  # ultralytics' own, on every thread, would only take memory
        return cls(predictor, interpreters, inputs[0], outputs[0])

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """``frame`` letterboxed by ultralytics' own transform, in RGB as the model takes it."""
        import cv2

        return cv2.cvtColor(self.predictor.pre_transform([frame])[0], cv2.COLOR_BGR2RGB)

    def detect(self, letterboxed: np.ndarray) -> np.ndarray:
        """Candidate boxes (rows: x, y, w, h in input pixels, then the class scores; one column each)
        for a frame from ``prepare``, from the first free interpreter (safe on several threads)."""
        if letterboxed.shape[:2] != self.input_hw:
            raise ReidError(f"letterboxed frame is {letterboxed.shape[:2]}, the detector takes {self.input_hw}")
        interpreter = self.free.get()
        try:
            candidates = self._run(interpreter, letterboxed)
        finally:
            self.free.put(interpreter)
        height, width = self.input_hw
        candidates[[0, 2]] *= width  # the model gives coordinates as shares of its input
        candidates[[1, 3]] *= height
        return candidates

    def _run(self, interpreter: Any, letterboxed: np.ndarray) -> np.ndarray:
        """The person candidates, copied out. The interpreter's buffers are borrowed only between its
        calls: LiteRT refuses to run while a view of them is held."""
        model_input = interpreter.tensor(self.input_index)()
        np.divide(letterboxed, np.float32(255), out=model_input[0], dtype=np.float32)  # as ultralytics: 0-1, float32
        del model_input
        interpreter.invoke()
        output = interpreter.tensor(self.output_index)()[0]
        candidates = output[:, output[4 + PERSON_CLASS] > self.predictor.args.conf]
        del output
        return candidates

    def track(self, frame: np.ndarray, candidates: np.ndarray, tracker: Any) -> list[Detection]:
        """What ultralytics' postprocess and tracker callback do with the model's output for ``frame``."""
        import torch
        from ultralytics.engine.results import Boxes
        from ultralytics.utils import nms, ops

        args = self.predictor.args
        kept = nms.non_max_suppression(
            torch.from_numpy(candidates[None]),
            args.conf,
            args.iou,
            args.classes,
            args.agnostic_nms,
            max_det=args.max_det,
        )[0]
        kept[:, :4] = ops.scale_boxes(self.input_hw, kept[:, :4], frame.shape)
        tracks = tracker.update(Boxes(kept[:, :6].numpy(), frame.shape[:2]), frame, feats=None)
        if len(tracks) == 0:
            return []
        boxes = ops.clip_boxes(tracks[:, :4].copy(), frame.shape)  # the tracker's own boxes may leave the frame
        return [
            Detection(int(track[4]), tuple(float(c) for c in box), float(track[5]))
            for track, box in zip(tracks, boxes, strict=True)
        ]


def detector_copies(threads: int, asked: int) -> int:
    """Copies of the detector for ``threads`` (``--detectors``; 0: two where there are two threads, as
    measured in BENCHMARKS.md, "The detector's ceiling"); never more than threads, each needs one.

    >>> [detector_copies(threads, asked) for threads, asked in [(1, 0), (2, 0), (16, 0), (4, 3), (2, 8)]]
    [1, 2, 2, 3, 2]
    """
    return max(1, min(threads, asked or 2))


def split_threads(threads: int, copies: int) -> list[int]:
    """``threads`` shared out between ``copies``, as evenly as they go.

    >>> split_threads(2, 2), split_threads(5, 2), split_threads(16, 3)
    ([1, 1], [3, 2], [6, 5, 5])
    """
    return [threads // copies + (i < threads % copies) for i in range(copies)]


def _interpreter_like(interpreter: Any, model: str, threads: int) -> Any:
    """Another interpreter of the ``model`` file, as ultralytics makes one (same runtime), on ``threads``;
    run once, so that its set-up (XNNPACK packs the weights on the first call) does not slow a frame."""
    copy = type(interpreter)(str(model), num_threads=threads)
    copy.allocate_tensors()
    for detail in copy.get_input_details():
        copy.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    copy.invoke()
    return copy


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
