"""Deep features of person crops: TensorFlow lives here only.

``FeatureExtractor`` loads a Keras ImageNet backbone once (ResNet50 by default, as the
user's README asks) with global average pooling, and embeds images in batches. Reading
and resizing run on a background thread while the network computes the previous batch.
Embeddings are L2-normalised, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import MatchingConfig
from ..core.errors import InputError, ModelNotFoundError, ReidError, first_line
from ..core.prefetch import prefetch
from .images import decode_image

log = logging.getLogger(__name__)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter


@dataclass(frozen=True)
class Backbone:
    name: str
    builder: str  # attribute of keras.applications
    preprocess_module: str  # keras.applications.<module>.preprocess_input
    imagenet_file: str  # what Keras caches in $KERAS_HOME/models/
    kwargs: tuple = ()


BACKBONES = {
    "resnet50": Backbone("resnet50", "ResNet50", "resnet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "mobilenetv2": Backbone(
        "mobilenetv2",
        "MobileNetV2",
        "mobilenet_v2",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        (("alpha", 1.0),),
    ),
    "mobilenet025": Backbone(
        "mobilenet025", "MobileNet", "mobilenet", "mobilenet_2_5_224_tf_no_top.h5", (("alpha", 0.25),)
    ),
}


def keras_models_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` (default ``~/.keras/models``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "models"


def model_key(backbone: str, weights: str, input_size: tuple[int, int]) -> str | None:
    """What the embeddings depend on, computed without loading TensorFlow; None for random
    weights (a new random network each run, so nothing may be reused)."""
    if weights == "none":
        return None
    if weights == "imagenet":
        cached = keras_models_dir() / BACKBONES[backbone].imagenet_file
        identity = _file_identity(cached) if cached.is_file() else "imagenet"
    else:
        identity = _file_identity(Path(weights))
    return f"{backbone}|{identity}|{input_size[0]}x{input_size[1]}"


def _file_identity(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return str(path)
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def read_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """An RGB uint8 image resized to ``size`` (height, width); ``InputError`` if unreadable."""
    import cv2

    image = decode_image(path)
    height, width = size
    interpolation = cv2.INTER_AREA if image.shape[0] > height else cv2.INTER_LINEAR
    image = cv2.resize(image, (width, height), interpolation=interpolation)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class FeatureExtractor:
    """A Keras backbone without its classifier, pooled to one vector per image."""

    def __init__(self, config: MatchingConfig) -> None:
        self.spec = BACKBONES[config.backbone]
        self.weights = config.weights
        self.input_size = config.input_size
        self.batch_size = config.batch_size
        self.model, self._forward = self._build()
        self.dimension = int(self.model.output_shape[-1])

    @property
    def cache_key(self) -> str | None:
        return model_key(self.spec.name, self.weights, self.input_size)

    def _build(self) -> tuple[Any, Callable[[Any], Any]]:  # the Keras model, its tf.function
        import tensorflow as tf
        from tensorflow import keras

        builder = getattr(keras.applications, self.spec.builder)
        preprocess = getattr(keras.applications, self.spec.preprocess_module).preprocess_input
        shape = (*self.input_size, 3)
        weights = self._weights_argument()
        try:
            model = builder(
                include_top=False, weights=weights, input_shape=shape, pooling="avg", **dict(self.spec.kwargs)
            )
        except (OSError, ValueError) as exc:
            if self.weights == "imagenet":
                raise self._imagenet_missing() from None
            raise ReidError(f"cannot load weights {self.weights} into {self.spec.name}: {first_line(exc)}") from None
        except Exception as exc:  # Keras reports a failed download with a plain Exception
            if self.weights == "imagenet":
                raise self._imagenet_missing() from None
            raise ReidError(f"cannot build {self.spec.name}: {first_line(exc)}") from None

        @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.uint8)], reduce_retracing=True)
        def forward(images: tf.Tensor) -> tf.Tensor:
            features = model(preprocess(tf.cast(images, tf.float32)), training=False)
            return tf.math.l2_normalize(features, axis=1)

        return model, forward

    def _weights_argument(self) -> str | None:
        if self.weights == "none":
            log.warning("RANDOM WEIGHTS (--weights none): similarities are meaningless; use this for tests only")
            return None
        if self.weights == "imagenet":
            cached = keras_models_dir() / self.spec.imagenet_file
            # Load a cached file by path: Keras would re-check its hash and, if a download then
            # fails, delete it. A path is loaded as it is, never downloaded, never deleted.
            return str(cached) if cached.is_file() else "imagenet"
        path = Path(self.weights)
        if not path.is_file():
            raise ModelNotFoundError(f"weights file {path} not found")
        return str(path)

    def _imagenet_missing(self) -> ModelNotFoundError:
        return ModelNotFoundError(
            f"the ImageNet weights of {self.spec.name} are not cached and could not be downloaded (offline?): "
            f"put {self.spec.imagenet_file} in {keras_models_dir()}/ or pass --weights PATH"
        )

    def embed(self, images: np.ndarray) -> np.ndarray:
        """L2-normalised embeddings of a uint8 batch (N, H, W, 3) in RGB."""
        return self._forward(images).numpy()

    def embed_files(
        self, paths: Sequence[Path], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, dict[Path, str]]:
        """Embeddings of the readable files, in order, and an error message per unreadable file.

        Returns ``(embeddings, errors)``; ``embeddings`` has one row per readable path, in the
        order of ``paths`` with the unreadable ones left out. ``on_batch(n)`` is called after each
        batch with the number of files it covered.
        """
        rows: list[np.ndarray] = []
        errors: dict[Path, str] = {}
        for batch, covered in prefetch(self._batches(paths, errors_out=errors)):
            if len(batch):
                rows.append(self.embed(batch))
            if on_batch:
                on_batch(covered)
        if not rows:
            return np.zeros((0, self.dimension), np.float32), errors
        return np.concatenate(rows).astype(np.float32), errors

    def _batches(self, paths: Sequence[Path], errors_out: dict[Path, str]) -> Iterator[tuple[np.ndarray, int]]:
        batch: list[np.ndarray] = []
        covered = 0
        for path in paths:
            covered += 1
            try:
                batch.append(read_image(path, self.input_size))
            except (InputError, OSError) as exc:
                errors_out[path] = str(exc) if isinstance(exc, InputError) else f"{path}: {exc.strerror or exc}"
            if len(batch) == self.batch_size:
                yield np.stack(batch), covered
                batch, covered = [], 0
        if batch or covered:
            yield (np.stack(batch) if batch else np.zeros((0, *self.input_size, 3), np.uint8)), covered
