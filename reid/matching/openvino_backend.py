"""Re-ID networks run by OpenVINO: the only module that imports openvino (and only when one is loaded).

Reads an OpenVINO IR (.xml with its .bin) or an .onnx file, gives it a dynamic batch, and adds the
catalogue's preprocessing (``reid.core.backbones``: colour order, scaling, mean and std) to the graph,
so the reading thread only decodes and resizes crops and the conversion runs on the network's threads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..core.backbones import BACKBONES, Backbone, Preprocessing
from ..core.config import MatchingConfig
from ..core.errors import ReidError, first_line
from .batches import BatchExtractor, l2_normalise
from .downloads import check_weights_file, official_files
from .keys import key_for

log = logging.getLogger(__name__)


def openvino_device(device: str) -> str:
    """OpenVINO's name for ``device`` ("auto" and "cpu" are its CPU: results the same on every machine)."""
    if device in ("auto", "cpu"):
        return "CPU"
    if device.startswith("cuda"):
        raise ReidError(
            f"device {device}: OpenVINO does not run on CUDA; use a Keras backbone there, or cpu or an OpenVINO "
            f"device name (GPU, NPU)"
        )
    return device


def reason(exc: BaseException) -> str:
    """The telling line of an OpenVINO error, whose first lines only name its source files."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith(("Exception from ", "Check '"))]
    text = (telling or lines or [first_line(exc)])[0]
    return text.split(" Please check", 1)[0][:300]


def compile_properties(config: MatchingConfig, device: str) -> dict[str, Any]:
    """Settings for ``compile_model``; the CPU ones only on the CPU."""
    if device != "CPU":
        return {}
    properties: dict[str, Any] = {}
    if config.inference_precision == "f32":
        # Left alone, OpenVINO computes FP32 models in bfloat16 where the CPU has it: faster there,
        # but embeddings (and so merges at a threshold's edge) would differ from machine to machine.
        properties["INFERENCE_PRECISION_HINT"] = "f32"
    if config.threads:
        properties["INFERENCE_NUM_THREADS"] = config.threads
    return properties


def with_preprocessing(model: Any, preprocessing: Preprocessing) -> Any:
    """``model`` taking the crops as decoded (BGR uint8, N x H x W x 3) and preparing them itself, as the
    catalogue says: inside the graph this runs on every thread and leaves the reading thread free."""
    import openvino as ov
    from openvino.preprocess import ColorFormat, PrePostProcessor

    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(ColorFormat.BGR)
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    steps = ppp.input().preprocess().convert_element_type(ov.Type.f32)
    if preprocessing.colour == "RGB":
        steps.convert_color(ColorFormat.RGB)
    scale = preprocessing.scale
    if scale != 1.0 or any(preprocessing.mean) or preprocessing.std != (1.0, 1.0, 1.0):
        # (x / scale - mean) / std, as OpenVINO's (x - mean') / scale'
        steps.mean([m * scale for m in preprocessing.mean]).scale([s * scale for s in preprocessing.std])
    return ppp.build()


class OpenVinoExtractor(BatchExtractor):
    """A catalogue network (``backbone`` overrides the catalogue entry: tests use it, users cannot)."""

    def __init__(self, config: MatchingConfig, backbone: Backbone | None = None) -> None:
        self.spec = backbone or BACKBONES[config.backbone]
        assert self.spec.preprocessing is not None and self.spec.input_size is not None
        self.config = config
        self.input_size = self.spec.input_size
        self.batch_size = config.batch_size
        self.device = openvino_device(config.device)
        self.path = self._weights_path()
        self.compiled = self._compile()
        self._request = self.compiled.create_infer_request()
        self.dimension = int(self.compiled.output(0).get_partial_shape()[1].get_length())
        log.info("%s: %s on %s %s", self.spec.name, self.path, self.device, compile_properties(config, self.device))

    @property
    def cache_key(self) -> str | None:
        return key_for(self.config, self.spec)

    def _weights_path(self) -> Path:
        path = self.config.weights_file
        if path is None:
            return official_files(self.spec)
        check_weights_file(path)
        return path

    def _compile(self) -> Any:
        import openvino as ov

        core = ov.Core()
        if not any(d == self.device or d.startswith(self.device + ".") for d in core.available_devices):
            raise ReidError(
                f"--device {self.config.device}: OpenVINO has no such device here "
                f"(it has {', '.join(core.available_devices)})"
            )
        try:
            model = core.read_model(str(self.path))
        except Exception as exc:  # OpenVINO raises RuntimeError with pages of detail
            raise ReidError(f"cannot load {self.path} with OpenVINO: {reason(exc)}") from None
        self._check_input(model)
        try:
            model.reshape({model.input(0): ov.PartialShape([-1, 3, *self.input_size])})
            model = with_preprocessing(model, self.spec.preprocessing)
            return core.compile_model(model, self.device, compile_properties(self.config, self.device))
        except Exception as exc:
            raise ReidError(f"cannot prepare {self.path} on {self.device}: {reason(exc)}") from None

    def _check_input(self, model: Any) -> None:
        """One image input (N, 3, H, W) of the catalogue's size, one vector output, or a clear error."""
        shape = model.input(0).get_partial_shape()
        static = [d.get_length() if d.is_static else None for d in shape] if shape.rank.is_static else []
        height, width = self.input_size
        fits = len(model.inputs) == 1 and len(static) == 4
        fits = fits and all(d is None or d == w for d, w in zip(static[1:], (3, height, width), strict=True))
        outputs = [o.get_partial_shape() for o in model.outputs]
        if not fits or len(outputs) != 1 or outputs[0].rank.is_dynamic or outputs[0].rank.get_length() != 2:
            raise ReidError(
                f"{self.path} is not a {self.spec.name}-style network: it takes {shape} and gives "
                f"{', '.join(map(str, outputs))}, not images (N, 3, {height}, {width}) "
                f"in and one embedding per image out"
            )

    def _collate(self, images: list[np.ndarray]) -> np.ndarray:
        return np.stack(images)  # BGR uint8 (N, H, W, 3): the model converts it (with_preprocessing)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        result = self._request.infer({0: batch}, share_inputs=True)
        return l2_normalise(result[self.compiled.output(0)])
