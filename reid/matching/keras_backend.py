"""Keras ImageNet backbones: the only module that imports TensorFlow (and only when one is loaded).

A backbone without its classifier, global-average pooled to one vector per image. ImageNet
weights come from Keras' own cache (``$KERAS_HOME/models``), downloaded by Keras when missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..core.backbones import BACKBONES
from ..core.config import MatchingConfig
from ..core.errors import ModelNotFoundError, ReidError, first_line
from ..core.quiet import native_noise_held_back
from .batches import BatchExtractor
from .keras_weights import backbone_hint, keras_models_dir
from .keys import key_for

log = logging.getLogger(__name__)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter


def tf_device(device: str) -> str | None:
    """TensorFlow's name for ``device``; None: TensorFlow's own choice (a GPU when CUDA is there)."""
    if device == "auto":
        return None
    if device == "cpu":
        return "/CPU:0"
    if device.startswith("cuda"):
        return f"/GPU:{device.partition(':')[2] or 0}"
    raise ReidError(f"device {device} is an OpenVINO device; the Keras backbones run on auto, cpu, cuda or cuda:N")


class KerasExtractor(BatchExtractor):
    """A Keras backbone; ``embed`` takes RGB uint8 batches, ``embed_files`` files."""

    def __init__(self, config: MatchingConfig) -> None:
        self.spec = BACKBONES[config.backbone]
        self.config = config
        self.weights = "imagenet" if config.weights == "default" else config.weights
        self.input_size = config.input_size
        self.batch_size = config.batch_size
        self.device = tf_device(config.device)
        with native_noise_held_back():  # TensorFlow's start-up lines, cuInit's on a CPU-only machine
            self.model, self._forward = self._build()
        self.dimension = int(self.model.output_shape[-1])

    @property
    def cache_key(self) -> str | None:
        return key_for(self.config, self.spec)

    def _build(self) -> tuple[Any, Callable[[Any], Any]]:  # the Keras model, its tf.function
        import tensorflow as tf
        from tensorflow import keras

        def placed() -> contextlib.AbstractContextManager:
            return tf.device(self.device) if self.device else contextlib.nullcontext()

        if self.device and self.device.startswith("/GPU:"):  # TensorFlow would quietly use the CPU instead
            gpus = tf.config.list_physical_devices("GPU")
            if int(self.device.split(":")[1]) >= len(gpus):
                raise ReidError(
                    f"--device {self.config.device}: TensorFlow sees {len(gpus)} GPU(s) here; install "
                    f"tensorflow[and-cuda] on a machine with an NVIDIA GPU, or use --device cpu"
                )

        with placed():
            model = self._model()
        preprocess = getattr(keras.applications, self.spec.keras_preprocess).preprocess_input
        shape = (*self.input_size, 3)

        @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.uint8)], reduce_retracing=True)
        def forward(images: tf.Tensor) -> tf.Tensor:
            with placed():
                features = model(preprocess(tf.cast(images, tf.float32)), training=False)
                return tf.math.l2_normalize(features, axis=1)

        return model, forward

    def _model(self) -> Any:
        from tensorflow import keras

        builder = getattr(keras.applications, self.spec.keras_builder)
        try:
            return builder(
                include_top=False,
                weights=self._weights_argument(),
                input_shape=(*self.input_size, 3),
                pooling="avg",
                **dict(self.spec.keras_kwargs),
            )
        except (OSError, ValueError) as exc:
            if self.weights == "imagenet":
                raise self._imagenet_missing() from None
            hint = backbone_hint(Path(self.weights), self.spec.name) if self.weights != "none" else ""
            raise ReidError(
                f"cannot load weights {self.weights} into {self.spec.name}: {first_line(exc).rstrip('.')}{hint}"
            ) from None
        except Exception as exc:  # Keras reports a failed download with a plain Exception
            if self.weights == "imagenet":
                raise self._imagenet_missing() from None
            raise ReidError(f"cannot build {self.spec.name}: {first_line(exc)}") from None

    def _weights_argument(self) -> str | None:
        if self.weights == "none":
            log.warning("RANDOM WEIGHTS (--weights none): similarities are meaningless; use this for tests only")
            return None
        if self.weights == "imagenet":
            cached = keras_models_dir() / self.spec.keras_file
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
            f"put {self.spec.keras_file} in {keras_models_dir()}/ or pass --weights PATH"
        )

    def embed(self, images: np.ndarray) -> np.ndarray:
        """L2-normalised embeddings of a uint8 batch (N, H, W, 3) in RGB."""
        return self._forward(images).numpy()

    def _collate(self, images: list[np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(np.stack(images)[..., ::-1])  # BGR -> RGB, as keras.applications expect

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        return self.embed(batch)
