"""The feature extractor named in the settings: the registry of backends, which imports each one
only when it is chosen and is imported by none of them.

``load_extractor(config)`` builds a Keras ImageNet network (``keras_backend``, the only module that
imports TensorFlow; ResNet50 by default, as the user's README asks) or a re-ID network run by
OpenVINO (``openvino_backend``, the only module that imports openvino). Both embed files the same
way (``batches.BatchExtractor``); ``keys.model_key`` says what their embeddings depend on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..core.backbones import BACKBONES
from ..core.config import MatchingConfig


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
