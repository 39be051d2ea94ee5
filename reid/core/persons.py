"""The one owner of the ``persons/`` layout: folder names, id allocation, listing, metadata.

Layout::

    persons/
      .person_ids              highest id ever handed out (so merged-away ids are never reused)
      id_1/                    one folder per tracked person
        track.json             where the crops come from (see track_metadata.py)
        clip_f000063.jpg       <video stem>_f<frame index>.jpg
      id_108.0/                legacy names from the original scripts are accepted
      backup_before_merge/     the merge script's safety copies, never a person folder
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .config import BACKUP_DIRNAME, IMAGE_SUFFIXES
from .errors import OutputError
from .files import DEFAULT_DIR_MODE, fsync_dir
from .track_metadata import is_unfinished, read_track_metadata, write_track_metadata

log = logging.getLogger(__name__)

FOLDER_PREFIX = "id_"
ID_COUNTER_FILENAME = ".person_ids"
_STAGING_SUFFIX = ".new"  # a folder being made with its track.json (IdAllocator)

_ID_PATTERN = re.compile(r"^id_(\d+)(?:\.(\d+))?$")
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.-]+")
# What crop_filename makes: a plain file name, never hidden, no separator, no "..", no NUL.
_CROP_NAME = re.compile(r"[\w-][\w.-]*_f\d{6,}\.jpg")


def person_folder_name(person_id: int) -> str:
    return f"{FOLDER_PREFIX}{person_id}"


def parse_person_id(name: str) -> int | None:
    """The integer id in ``id_12`` or the legacy ``id_108.0``; None for other names."""
    match = _ID_PATTERN.match(name)
    return int(match.group(1)) if match else None


def crop_filename(video: Path, frame_index: int) -> str:
    """``<video stem>_f<frame>.jpg``: unique within a folder, since a folder holds one track of one video."""
    stem = re.sub(r"\.{2,}", ".", _UNSAFE_NAME_CHARS.sub("_", Path(video).stem)).strip("_").lstrip(".") or "video"
    return f"{stem}_f{frame_index:06d}.jpg"


def is_crop_name(name: str) -> bool:
    """Whether ``name`` is a crop file name as ``crop_filename`` makes them (a plain file name).

    >>> is_crop_name("clip_f000063.jpg"), is_crop_name("../x_f000001.jpg"), is_crop_name(".x_f000001.jpg")
    (True, False, False)
    """
    return _CROP_NAME.fullmatch(name) is not None and ".." not in name


def is_person_folder(path: Path) -> bool:
    """A real folder (a symlink is never followed out of persons/) that is not hidden or the backup."""
    return not path.name.startswith(".") and path.name != BACKUP_DIRNAME and path.is_dir() and not path.is_symlink()


def list_person_folders(persons_dir: Path, *, missing_ok: bool = True) -> list[Path]:
    """Person folders directly in ``persons_dir``, by numeric id, then by name.

    A missing ``persons_dir`` gives an empty list, or ``FileNotFoundError`` without ``missing_ok``.
    """
    persons_dir = Path(persons_dir)
    try:
        entries = list(persons_dir.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        if missing_ok:
            return []
        raise FileNotFoundError(f"persons folder {persons_dir} does not exist") from None
    folders = [p for p in entries if is_person_folder(p)]
    return sorted(folders, key=lambda p: (parse_person_id(p.name) is None, parse_person_id(p.name) or 0, p.name))


def folder_summary(folder: Path) -> dict[str, Any]:
    """Name, id, image count and bytes of one person folder, without following symlinks, and
    whether a tracking run left it unfinished (still tracking it, or killed: ``track.json`` says).

    A folder that vanishes while it is read (a merge moved it) reads as empty.
    """
    images = size = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if (
                    entry.name.startswith(".")
                    or not entry.is_file(follow_symlinks=False)
                    or os.path.splitext(entry.name)[1].lower() not in IMAGE_SUFFIXES
                ):
                    continue
                try:
                    size += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue
                images += 1
    except (FileNotFoundError, NotADirectoryError):
        pass
    unfinished = is_unfinished(read_track_metadata(folder))
    return {
        "name": folder.name,
        "id": parse_person_id(folder.name),
        "images": images,
        "bytes": size,
        "unfinished": unfinished,
    }


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name. Hidden and temporary files are left
    out, and so are symbolic links: they may point outside the persons folder, and a merge
    leaves them where they are."""
    return sorted(
        p
        for p in Path(folder).iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and not p.is_symlink() and p.is_file()
    )


def prepare_output_dir(folder: Path, flag: str | None = None) -> None:
    """Create ``folder`` if needed and prove a file can be written there, so a run fails
    before hours of work rather than at its first output."""
    folder = Path(folder)
    named = f" ({flag})" if flag else ""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} exists and is not a folder{named}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write in {folder}: {exc.strerror or exc}{named}") from None


def prepare_persons_dir(folder: Path) -> None:
    """``prepare_output_dir`` for the persons folder."""
    prepare_output_dir(folder)


def _highest_id_in(folder: Path, depth: int) -> int:
    """The highest person id among folder names up to ``depth`` levels below ``folder``."""
    highest = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        person_id = parse_person_id(entry.name)
        if person_id is not None:
            highest = max(highest, person_id)
        elif depth > 1:
            highest = max(highest, _highest_id_in(Path(entry.path), depth - 1))
    return highest


class IdAllocator:
    """Hands out person ids that are unique across videos, runs and concurrent processes.

    The next id is one above the highest of: the ids recorded in ``.person_ids``, the
    folders in ``persons/`` and those in the merge backups. The folder is created with
    ``mkdir`` (which fails if it exists), so even a stale counter can never make two
    tracks share a folder or a run add to an earlier run's folder.
    """

    def __init__(self, persons_dir: Path) -> None:
        self.persons_dir = Path(persons_dir)
        self.counter_path = self.persons_dir / ID_COUNTER_FILENAME

    def reserve(self) -> int:
        """Allocate an id without creating its folder (a merge plan creates it, journaled); no
        other allocation will hand it out."""
        person_id, folder = self.create_folder()
        folder.rmdir()  # the counter keeps the id taken; the plan makes the folder
        return person_id

    def create_folder(self, metadata: dict[str, Any] | None = None) -> tuple[int, Path]:
        """Allocate an id and create its folder; returns both. With ``metadata``, the folder appears
        with its first ``track.json`` already in it (``person_id`` filled in): whenever a run is
        killed, each of its folders says which video it belongs to, so the next run can replace it."""
        try:
            fd = os.open(self.counter_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot write in {self.persons_dir}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._remove_unfinished()
            recorded = self._read_counter(fd)
            # Rescanning under the lock costs a directory listing per new track: negligible
            # next to the frames it took to confirm the track, and it sees other runs' folders.
            candidate = (
                max(
                    recorded,
                    _highest_id_in(self.persons_dir, depth=1),
                    _highest_id_in(self.persons_dir / BACKUP_DIRNAME, depth=2),
                )
                + 1
            )
            while True:
                folder = self.persons_dir / person_folder_name(candidate)
                try:
                    self._make(folder, candidate, metadata)
                    break
                except FileExistsError:
                    candidate += 1
            self._write_counter(fd, candidate)
            return candidate, folder
        except OSError as exc:
            raise OutputError(f"cannot create a person folder in {self.persons_dir}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)

    def _make(self, folder: Path, person_id: int, metadata: dict[str, Any] | None) -> None:
        """``folder``, new (``FileExistsError`` if it is there), with its ``track.json`` when given one:
        made as a hidden folder and renamed into place, so it is never seen without it."""
        if metadata is None:
            folder.mkdir()
            return
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=_STAGING_SUFFIX, dir=self.persons_dir))
        try:
            os.chmod(staging, DEFAULT_DIR_MODE)  # mkdtemp makes 0700; give what mkdir would
            write_track_metadata(staging, {**metadata, "person_id": person_id})
            if os.path.lexists(folder):  # rename would replace an empty folder: never take another's
                raise FileExistsError(folder)
            os.rename(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(self.persons_dir)

    def _remove_unfinished(self) -> None:
        """Hidden folders that ``_make`` never renamed (its process was killed): under the lock, no
        other allocation can be making one now."""
        for leftover in self.persons_dir.glob(f".{FOLDER_PREFIX}*{_STAGING_SUFFIX}"):
            shutil.rmtree(leftover, ignore_errors=True)

    def _read_counter(self, fd: int) -> int:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        if not raw.strip():
            return 0
        try:
            return int(json.loads(raw)["last_id"])
        except (ValueError, KeyError, TypeError):
            log.warning("%s is unreadable; recomputing ids from the folders", self.counter_path)
            return 0

    def _write_counter(self, fd: int, last_id: int) -> None:
        data = json.dumps({"last_id": last_id}).encode()
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
        os.fsync(fd)
