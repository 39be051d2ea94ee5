"""Keras weights files without TensorFlow: where Keras caches them, and which backbone a file was
saved from, told by its layer names: the hint for a file passed with the wrong ``--backbone``
(Keras itself only says "Layer count mismatch")."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.backbones import BACKBONES


def keras_models_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` (default ``~/.keras/models``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "models"


# A layer only the backbone's Keras builder names so (keras.applications, stable across versions).
SIGNATURE_LAYERS = {
    "conv2_block1_1_conv": "resnet50",
    "expanded_conv_depthwise": "mobilenetv2",
    "conv_dw_1": "mobilenet025",
}


def saved_backbone(path: Path) -> str | None:
    """The ``--backbone`` whose network ``path`` (a Keras .h5 weights file) holds; None if unknown."""
    import h5py  # installed with Keras; only needed when a weights file did not load

    try:
        with h5py.File(path, "r") as weights:
            names = weights.attrs.get("layer_names", [])
            layers = {name.decode() if isinstance(name, bytes) else str(name) for name in names}
    except (OSError, ValueError):  # not an HDF5 file
        return None
    found = [backbone for layer, backbone in SIGNATURE_LAYERS.items() if layer in layers]
    return found[0] if len(found) == 1 else None


def backbone_hint(path: Path, backbone: str) -> str:
    """``; the file holds mobilenetv2 weights: pass --backbone mobilenetv2``, or a general hint."""
    saved = saved_backbone(path)
    if saved and saved != backbone:
        return f"; the file holds {saved} weights: pass --backbone {saved}"
    keras = ", ".join(name for name, spec in BACKBONES.items() if spec.kind == "keras")
    return f"; are they weights of another network? --backbone names it ({keras})"
