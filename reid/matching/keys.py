"""What embeddings depend on (backbone, weights, input size, preprocessing), known without loading
a framework, so the embedding cache can be consulted before a network is loaded."""

from __future__ import annotations

from pathlib import Path

from ..core.backbones import BACKBONES, Backbone
from ..core.config import MatchingConfig
from .keras_weights import keras_models_dir


def model_key(
    config: MatchingConfig | str, weights: str | None = None, input_size: tuple[int, int] | None = None
) -> str | None:
    """What the embeddings depend on: backbone, the weights file's identity, input size, and for OpenVINO
    the preprocessing, arithmetic and device. None for random weights (a new network each run).

    Also accepts the older form ``model_key(backbone, weights, input_size)``.
    """
    if isinstance(config, str):
        height, width = input_size or (MatchingConfig.input_height, MatchingConfig.input_width)
        config = MatchingConfig(backbone=config, weights=weights or "default", input_height=height, input_width=width)
    return key_for(config, BACKBONES[config.backbone])


def key_for(config: MatchingConfig, spec: Backbone) -> str | None:
    """``model_key`` for a catalogue entry (which a test may have changed)."""
    height, width = config.input_size
    if spec.kind == "keras":
        identity = weights_identity(spec, config.weights)
        return None if identity is None else f"{spec.name}|{identity}|{height}x{width}"
    if config.weights_file is None:  # the official files, checked against these sha256 at every load
        identity = "sha256:" + "+".join(file.sha256 for file in spec.files)
    else:
        path = config.weights_file
        identity = file_identity(path) + (f"+{file_identity(path.with_suffix('.bin'))}" if _is_ir(path) else "")
    assert spec.preprocessing is not None
    device = "CPU" if config.device in ("auto", "cpu") else config.device  # as openvino_backend names it
    return (
        f"{spec.name}|{identity}|{height}x{width}|{spec.preprocessing.describe()}|{config.inference_precision}|{device}"
    )


def weights_identity(spec: Backbone, weights: str) -> str | None:
    """A Keras backbone's weights in the cache key (as before the OpenVINO backbones, so caches stay
    valid); None for random weights."""
    if weights == "none":
        return None
    if weights in ("default", "imagenet"):
        cached = keras_models_dir() / spec.keras_file
        return file_identity(cached) if cached.is_file() else "imagenet"
    return file_identity(Path(weights))


def _is_ir(path: Path) -> bool:
    return path.suffix.lower() == ".xml"


def file_identity(path: Path) -> str:
    """A file's resolved path, size and modification time: changes when the file is replaced."""
    try:
        stat = path.stat()
    except OSError:
        return str(path)
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
