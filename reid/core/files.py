"""Small filesystem helpers shared by the modules that write files other processes read."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# The temporary files of the writes below: ``.<name>.<8 random characters of mkstemp>.tmp``.
TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary file of ``atomic_write_bytes`` or ``write_new_file``: one
    that a process killed mid-write leaves behind, never a finished file (those have their own
    names). Merges leave them out; they are not crops.

    >>> is_temporary(".id_3.jpg.k2x9_q0a.tmp"), is_temporary("id_3.jpg"), is_temporary(".notes.tmp")
    (True, False, False)
    """
    return TEMPORARY.fullmatch(name) is not None


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never a mix.

    The temporary file lives in the same folder (``os.replace`` is only atomic within one
    filesystem). With ``durable`` the data and the rename are fsynced, so a power cut
    cannot leave an empty file behind either.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, DEFAULT_FILE_MODE)  # mkstemp makes 0600; give what open() would (crops, status, pages)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    if durable:
        fsync_dir(path.parent)


# link() fails with these where the filesystem has no hard links (FAT, exFAT, some network shares)
NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


def write_new_file(folder: Path, names: Iterable[str], data: bytes) -> Path:
    """Write ``data`` as a new file in ``folder``, under the first of ``names`` that is free, and
    return its path. Never replaces a file, even one that another process creates at the same
    instant: checking first and renaming after would let two writers take one name.

    The data goes to a hidden temporary file that is then hard-linked under the name (``link``
    fails on an existing name, atomically), so the file appears whole. Where hard links are not
    supported, the name is opened with ``O_EXCL`` and written in place.
    """
    folder = Path(folder)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".new.", suffix=".tmp")
    try:
        os.fchmod(fd, DEFAULT_FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        for name in names:
            with contextlib.suppress(FileExistsError):
                _claim(Path(tmp_name), folder / name, data)
                return folder / name
        raise FileExistsError(errno.EEXIST, "every name is taken", str(folder))
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)


def _claim(written: Path, path: Path, data: bytes) -> None:
    """``written`` linked as ``path``; ``FileExistsError`` if the name is taken."""
    try:
        os.link(written, path)
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise
        with open(path, "xb") as handle:  # O_EXCL: exclusive, though written in place
            handle.write(data)


def _read_umask() -> int:
    """The process umask, read without changing it where Linux shows it (``/proc/self/status``).

    Elsewhere it is read by setting it and putting it back, which is only safe before other
    threads start: that is why it is read once, at import. Setting it per write raced with
    threads creating folders, which then came out world-writable.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


# What a plain ``open(path, "w")`` and ``mkdir`` would create: 0666 and 0777 less the umask.
DEFAULT_FILE_MODE = 0o666 & ~_read_umask()
DEFAULT_DIR_MODE = 0o777 & ~_read_umask()


def atomic_write_json(path: Path, data: Any, *, durable: bool = True) -> None:
    """``atomic_write_bytes`` for a JSON document (UTF-8, indented for people who read it)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if needed) for the ``with`` block.

    A side file is locked rather than the data file itself because the data file is
    replaced by ``os.replace`` on every write, and a lock on a replaced inode protects nothing.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
