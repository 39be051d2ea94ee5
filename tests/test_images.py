"""Decoding crops: every kind of bad file is an InputError saying why; grey and RGBA become BGR."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from conftest import png_claiming
from reid.core.errors import InputError
from reid.matching.images import decode_image


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file (0 bytes)"),
        (b"\xff\xd8\xff\xe0 not the rest of a jpeg", "not a readable image"),
        (b"plain text", "not a readable image"),
        (png_claiming(200_000, 200_000), "larger than 64 megapixels"),
    ],
)
def test_unreadable_files_say_why(tmp_path, content, reason):
    path = tmp_path / "crop.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(reason)) as excinfo:
        decode_image(path)
    assert str(path) in str(excinfo.value)


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        decode_image(tmp_path / "gone.png")


@pytest.mark.parametrize("channels", [1, 4])
def test_grey_and_rgba_become_three_channel_bgr(tmp_path, channels):
    image = np.zeros((20, 10, channels), np.uint8)
    image[..., 0] = 200
    path = tmp_path / "crop ü.png"  # non-ASCII names work too
    assert cv2.imencode(".png", image)[1].tofile(str(path)) is None
    decoded = decode_image(path)
    assert decoded.shape == (20, 10, 3) and decoded.dtype == np.uint8
    assert decoded[0, 0, 0] == 200
