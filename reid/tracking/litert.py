"""A LiteRT (.tflite) detector called directly, in copies: the frame goes straight into the
interpreter's input and only the boxes that may be persons come out, where ultralytics' steps copy
the whole input and output several times (BENCHMARKS.md, "The detector's ceiling"). Copies of the
interpreter (``--detectors``) work on successive frames at once, the threads shared out between
them: their threads never wait for each other, where one interpreter's threads meet at every layer.
ultralytics is imported here only inside ``DirectLiteRT.track``, as in ``detector.py``."""

from __future__ import annotations

import queue
from typing import Any

import numpy as np

from ..core.errors import ReidError
from .detections import Detection

PERSON_CLASS = 0  # COCO


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
