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
    returns the path of the first (the file OpenVINO reads; an .xml finds its .bin beside it). When a
    download cannot be had (offline), one error names every file still missing, not just the first."""
    folder = cache_folder(spec)
    for file in spec.files:
        target = folder / file.name
        if is_cached(target, file):
            continue
        if target.is_file():
            log.warning("%s does not match its sha256 (damaged?): downloading it again", target)
        try:
            download(spec, file, target)
        except UnreachableError as exc:
            missing = [f for f in spec.files if not is_cached(folder / f.name, f)]
            raise ModelNotFoundError(missing_files_message(spec, folder, missing, exc.reason)) from None
    return folder / spec.files[0].name


class UnreachableError(Exception):
    """A download that could not be made at all (no network, refused, HTTP error); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_cached(target: Path, file: ModelFile) -> bool:
    return target.is_file() and sha256_of(target) == file.sha256


def missing_files_message(spec: Backbone, folder: Path, missing: list[ModelFile], reason: str) -> str:
    """One line: every file the backbone still needs, where each comes from, where it goes, and the way round."""
    files = "; ".join(f"{f.name} from {f.url}" for f in missing)
    them = "it" if len(missing) == 1 else "them"
    return (
        f"{spec.name} needs {len(missing)} model file{'' if len(missing) == 1 else 's'} that "
        f"{'is' if len(missing) == 1 else 'are'} not in the model cache and could not be downloaded ({reason}): "
        f"{files}. Download {them} into {folder}/ (set {MODELS_ENV} to keep the model cache elsewhere), or pass "
        f"--weights PATH: {spec.weights_hint}"
    )


def check_weights_file(path: Path) -> None:
    """``--weights PATH`` exists, and so does everything it needs (an .xml's .bin): every missing
    file named in one ``ModelNotFoundError``."""
    needed = [path, path.with_suffix(".bin")] if path.suffix.lower() == ".xml" else [path]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        why = "; an OpenVINO .xml needs its .bin of the same name beside it" if len(needed) > 1 else ""
        files = f"file{'s' if len(missing) > 1 else ''} {' and '.join(map(str, missing))}"
        raise ModelNotFoundError(f"weights {files} not found (--weights{why})")


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
            size, sha256 = _copy(file, out)
        if (size, sha256) != (file.size, file.sha256):
            raise ModelNotFoundError(
                f"the download of {file.url} is not the expected file (got {size} bytes, sha256 {sha256[:12]}..., "
                f"expected {file.size} bytes, {file.sha256[:12]}...): not kept; try again, or put the file in "
                f"{target.parent}/ yourself, or pass --weights PATH: {spec.weights_hint}"
            )
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _copy(file: ModelFile, out: BinaryIO) -> tuple[int, str]:
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
        raise UnreachableError(
            (f"HTTP {code} " if code else "") + str(getattr(exc, "reason", None) or first_line(exc))
        ) from None
    return size, digest.hexdigest()
