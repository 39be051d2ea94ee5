"""The safety copies in ``persons/backup_before_merge/<timestamp>/``: made and verified before
anything moves, each with a manifest (``merge.json``) saying what its merge did and whether it
was undone."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.config import BACKUP_DIRNAME
from ..core.errors import OutputError
from ..core.files import atomic_write_json, fsync_dir
from .faults import fault_point

MANIFEST = "merge.json"

Progress = Callable[[str, int, int, str], None]  # operation, done, total, current item


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def file_sizes(folder: Path) -> dict[str, int]:
    """Every regular file below ``folder`` (links left out) and its size, by relative path."""
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def copy_folders(
    source_dir: Path,
    folders: Sequence[str],
    target: Path,
    progress: Progress | None = None,
    step: str = "backup",
    operation: str = "backing up",
) -> None:
    """Copy each folder into ``target`` and verify the copy; ``OutputError`` (e.g. a full disk)
    leaves the originals untouched. ``step`` names the fault points (``<step>:N`` after the
    N-th folder, ``<step>_file:N`` after the N-th file); ``operation`` the progress reports."""
    files_copied = itertools.count(1)

    def copy_durably(source: str, destination: str) -> str:
        shutil.copy2(source, destination)
        with open(destination, "rb") as handle:
            os.fsync(handle.fileno())
        fault_point(f"{step}_file:{next(files_copied)}")
        return destination

    try:
        target.mkdir(parents=True)
        for done, name in enumerate(folders):
            shutil.copytree(source_dir / name, target / name, symlinks=True, copy_function=copy_durably)
            if file_sizes(source_dir / name) != file_sizes(target / name):
                raise OutputError(f"the backup of {name} in {target} does not match the original")
            fsync_dir(target / name)
            if progress:
                progress(operation, done + 1, len(folders), name)
            fault_point(f"{step}:{done + 1}")
        fsync_dir(target)
        fsync_dir(target.parent)
    except OSError as exc:
        raise OutputError(f"copying into {target} failed ({exc.strerror or exc}); nothing was changed") from None


def read_manifest(backup: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_manifest(backup: Path, manifest: dict[str, Any]) -> None:
    atomic_write_json(backup / MANIFEST, manifest)


def backups_newest_first(persons_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every backup folder with a readable manifest, newest first."""
    root = Path(persons_dir) / BACKUP_DIRNAME
    if not root.is_dir():
        return []
    found = []
    for backup in sorted(root.iterdir(), reverse=True):
        manifest = read_manifest(backup)
        if manifest:
            found.append((backup, manifest))
    return found


def last_merge(persons_dir: Path) -> Path | None:
    """The backup folder of the newest merge that has not been undone."""
    return next((backup for backup, m in backups_newest_first(persons_dir) if m.get("state") == "merged"), None)
