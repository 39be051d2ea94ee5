"""Reading crops from disk: one decoder for the network's input and the review page's thumbnails."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.errors import InputError

# No person crop comes near this; a file claiming more is damaged or a decompression bomb,
# and decoding it would take gigabytes. OpenCV reads the limit at its first decode.
MAX_IMAGE_MEGAPIXELS = 64
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_MEGAPIXELS * 1024 * 1024))


def decode_image(path: Path) -> np.ndarray:
    """The image as BGR uint8 (grey and RGBA converted); ``InputError`` saying why if unreadable,
    ``OSError`` if the file cannot be opened."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)  # also works for names OpenCV cannot open
    if not data.size:
        raise InputError(f"{path}: empty file (0 bytes)")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        too_big = "MAX_IMAGE_PIXELS" in str(exc)
        raise InputError(
            f"{path}: "
            + (
                f"larger than {MAX_IMAGE_MEGAPIXELS} megapixels, not a person crop"
                if too_big
                else "not a readable image"
            )
        ) from None
    if image is None or image.size == 0:
        raise InputError(f"{path}: not a readable image")
    return image
