"""The catalogue's official model files: found in a cache, else downloaded and checked (as Keras does
for its ImageNet weights), never used unchecked.

The cache is ``$REID_MODELS/<backbone>/`` (default ``~/.cache/reid/models/<backbone>/``): one folder
per catalogue name, since two entries may share file names (0287 FP32 and INT8). A download goes to a
temporary file in that folder and is renamed only once its size and sha256 match, so an interrupted
or wrong download never leaves a file that looks complete. A cached file is checked at every load
(a few milliseconds for a few megabytes), so a damaged one is replaced rather than used.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import BinaryIO

from ..core.backbones import Backbone, ModelFile
from ..core.errors import ModelNotFoundError, first_line

log = logging.getLogger(__name__)

MODELS_ENV = "REID_MODELS"
TIMEOUT_S = 60.0
_CHUNK = 1 << 20


def models_dir() -> Path:
    """Where downloaded models are kept: ``$REID_MODELS``, default ``~/.cache/reid/models``."""
    configured = os.environ.get(MODELS_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "reid" / "models"


def cache_folder(spec: Backbone) -> Path:
    return models_dir() / spec.name


def open_url(url: str) -> BinaryIO:
    """The response to ``url`` (http, https or file); tests replace this to simulate a server."""
    return urllib.request.urlopen(url, timeout=TIMEOUT_S)  # noqa: S310 (URLs come from the catalogue)


def official_files(spec: Backbone) -> Path:
    """The backbone's official files in the cache, downloaded and checked where missing or damaged;
    returns the path of the first (the file OpenVINO reads; an .xml finds its .bin beside it)."""
    folder = cache_folder(spec)
    for file in spec.files:
        target = folder / file.name
        if target.is_file():
            if sha256_of(target) == file.sha256:
                continue
            log.warning("%s does not match its sha256 (damaged?): downloading it again", target)
        download(spec, file, target)
    return folder / spec.files[0].name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(spec: Backbone, file: ModelFile, target: Path) -> None:
    """``file.url`` into ``target``, kept only when its size and sha256 are the catalogue's."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot create the model cache {target.parent}: {exc.strerror or exc}") from None
    log.info("downloading %s (%.1f MB) into %s", file.url, file.size / 1e6, target.parent)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{file.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            size, sha256 = _copy(file, out, spec, target)
        if (size, sha256) != (file.size, file.sha256):
            raise ModelNotFoundError(
                f"the download of {file.url} is not the expected file (got {size} bytes, sha256 {sha256[:12]}..., "
                f"expected {file.size} bytes, {file.sha256[:12]}...): not kept; try again, or put the file in "
                f"{target.parent}/ yourself, or pass --weights PATH"
            )
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _copy(file: ModelFile, out: BinaryIO, spec: Backbone, target: Path) -> tuple[int, str]:
    """Stream the download into ``out``; returns its size and sha256. Reads at most one byte more than
    expected, so a wrong URL serving something huge cannot fill the disk."""
    digest, size = hashlib.sha256(), 0
    try:
        with open_url(file.url) as response:
            while size <= file.size and (chunk := response.read(min(_CHUNK, file.size + 1 - size))):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except OSError as exc:  # URLError, HTTPError, timeouts, refused connections are all OSErrors
        code = getattr(exc, "code", None)  # an HTTPError's status
        reason = (f"HTTP {code} " if code else "") + str(getattr(exc, "reason", None) or first_line(exc))
        raise ModelNotFoundError(
            f"{spec.name}: {file.name} is not in the model cache {target.parent}/ and could not be downloaded from "
            f"{file.url} ({reason}); download it into that folder, or pass --weights PATH (an .xml with its .bin "
            f"beside it, or an .onnx)"
        ) from None
    return size, digest.hexdigest()
