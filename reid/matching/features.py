"""Deep features of person crops, whichever framework runs the network.

``load_extractor(config)`` builds the backbone named in the settings: a Keras ImageNet network
(``keras_backend``, the only module that imports TensorFlow; ResNet50 by default, as the user's
README asks) or a re-ID network run by OpenVINO (``openvino_backend``, the only module that imports
openvino). Both embed files the same way (``BatchExtractor.embed_files``): crops are decoded and
resized on a background thread while the network computes the previous batch, and embeddings are
L2-normalised, so a dot product is a cosine similarity. ``model_key`` says what the embeddings depend
on, without loading any framework, so the cache can be consulted before a network is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..core.backbones import BACKBONES, Backbone
from ..core.config import MatchingConfig
from ..core.errors import InputError
from ..core.prefetch import prefetch
from .images import decode_image


class Extractor(Protocol):
    """What both backends offer."""

    dimension: int

    @property
    def cache_key(self) -> str | None: ...

    def embed_files(
        self, paths: Sequence[Path], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, dict[Path, str]]: ...


def load_extractor(config: MatchingConfig) -> Extractor:
    """The network of ``config.backbone`` with its weights, loaded (seconds); ``ReidError`` if it cannot be."""
    if BACKBONES[config.backbone].kind == "openvino":
        from .openvino_backend import OpenVinoExtractor

        return OpenVinoExtractor(config)
    from .keras_backend import KerasExtractor

    return KerasExtractor(config)


# The name callers used before the OpenVINO backbones: FeatureExtractor(config) still works.
FeatureExtractor = load_extractor


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
        from .keras_backend import weights_identity  # no TensorFlow import: only paths

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


def _is_ir(path: Path) -> bool:
    return path.suffix.lower() == ".xml"


def file_identity(path: Path) -> str:
    """A file's resolved path, size and modification time: changes when the file is replaced."""
    try:
        stat = path.stat()
    except OSError:
        return str(path)
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def load_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A BGR uint8 image resized to ``size`` (height, width); ``InputError`` if unreadable."""
    import cv2

    image = decode_image(path)
    height, width = size
    # Person crops are tall: their height says whether they shrink (INTER_AREA) or grow (INTER_LINEAR).
    shrinking = image.shape[0] > height
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def read_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """An RGB uint8 image resized to ``size`` (height, width); ``InputError`` if unreadable."""
    return load_image(path, size)[:, :, ::-1]


class BatchExtractor:
    """Embeds files in batches; a backend supplies ``_collate`` (images -> network input, run on the
    reading thread) and ``_infer`` (network input -> L2-normalised embeddings)."""

    dimension: int
    batch_size: int
    input_size: tuple[int, int]

    def _collate(self, images: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def embed_files(
        self, paths: Sequence[Path], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, dict[Path, str]]:
        """Embeddings of the readable files, in order, and an error message per unreadable file.

        Returns ``(embeddings, errors)``; ``embeddings`` (float32) has one row per readable path, in the
        order of ``paths`` with the unreadable ones left out. ``on_batch(n)`` is called after each
        batch with the number of files it covered.
        """
        rows: list[np.ndarray] = []
        errors: dict[Path, str] = {}
        for batch, covered in prefetch(self._batches(paths, errors_out=errors)):
            if batch is not None:
                rows.append(self._infer(batch))
            if on_batch:
                on_batch(covered)
        if not rows:
            return np.zeros((0, self.dimension), np.float32), errors
        return np.concatenate(rows).astype(np.float32, copy=False), errors

    def _batches(self, paths: Sequence[Path], errors_out: dict[Path, str]) -> Iterator[tuple[np.ndarray | None, int]]:
        images: list[np.ndarray] = []
        covered = 0
        for path in paths:
            covered += 1
            try:
                images.append(load_image(path, self.input_size))
            except (InputError, OSError) as exc:
                errors_out[path] = str(exc) if isinstance(exc, InputError) else f"{path}: {exc.strerror or exc}"
            if len(images) == self.batch_size:
                yield self._collate(images), covered
                images, covered = [], 0
        if images or covered:
            yield (self._collate(images) if images else None), covered


def l2_normalise(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, np.finfo(np.float32).tiny)
