"""Undoing the last merge: its folders restored byte for byte from the backup.

Journaled like a merge (``persons/.undo_journal.jsonl``): the backup copies are first staged
(copied and verified) in ``persons/.undo-<timestamp>/``; then each folder is swapped into
place (the merged version set aside in the staging folder), the staging folder removed, the
manifest marked ``undone`` and the journal filed in the backup. Every step is safe to repeat,
so the next run finishes an undo killed anywhere after staging (``recovery.py``); one killed
while staging is rolled back.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.config import BACKUP_DIRNAME
from ..core.errors import MergeError
from ..core.files import fsync_dir, is_temporary
from ..core.lease import Lease, held_exclusively
from ..core.track_metadata import METADATA_FILENAME
from .backup import Progress, backups_newest_first, copy_folders, file_sizes, last_merge, read_manifest, write_manifest
from .journal import UNDO_JOURNAL, Journal, refuse_if_interrupted

PREFIX = "undo:"  # names the undo's fault points


def undo_last(
    persons_dir: Path, progress: Progress | None = None, lease: Lease | None = None
) -> tuple[Path, list[str]]:
    """Restore the folders of the last merge, byte for byte, from its backup; returns the
    backup and the folders. Refuses (``MergeError``) when a merged folder holds files the merge
    did not put there, since restoring would drop them."""
    persons_dir = Path(persons_dir)
    with held_exclusively(persons_dir, lease, "undoing the last merge"):
        refuse_if_interrupted(persons_dir)
        backup = last_merge(persons_dir)
        if backup is None:
            raise nothing_to_undo(persons_dir)
        manifest = read_manifest(backup)
        folders = restored_folders(manifest)
        check_undoable(persons_dir, backup, manifest)
        staging = persons_dir / f".undo-{backup.name}"
        journal = Journal(persons_dir / UNDO_JOURNAL, PREFIX)
        journal.append(
            {
                "op": "begin",
                "backup": str(backup.relative_to(persons_dir)),
                "folders": folders,
                "created": manifest.get("created", []),
                "staging": staging.name,
            }
        )
        try:
            # the restored copies, verified
            copy_folders(backup, folders, staging, progress, step=f"{PREFIX}stage", operation="restoring")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            (persons_dir / UNDO_JOURNAL).unlink(missing_ok=True)
            raise
        journal.append({"op": "staged"})
        finish_undo(persons_dir, backup, staging, folders, journal, [], manifest.get("created", []))
        return backup, folders


def restored_folders(manifest: dict[str, Any]) -> list[str]:
    """The folders a merge backed up, which its undo restores (manifests written before splits
    existed list only the groups)."""
    return manifest.get("backed_up") or [name for g in manifest["groups"] for name in (g["survivor"], *g["members"])]


def nothing_to_undo(persons_dir: Path) -> MergeError:
    """Why there is no merge to undo: none was made, or the last one was undone already."""
    undone = [(b, m) for b, m in backups_newest_first(persons_dir) if m.get("state") == "undone"]
    if undone:
        backup, manifest = undone[0]
        return MergeError(
            f"the last merge (backup {backup.name}) was already undone at "
            f"{manifest.get('undone_at', 'an unknown time')}; there is no other merge to undo"
        )
    return MergeError(f"no merge to undo in {Path(persons_dir) / BACKUP_DIRNAME}")


def check_undoable(persons_dir: Path, backup: Path, manifest: dict[str, Any]) -> None:
    """``MergeError`` if restoring would drop a file added since the merge, or a folder is gone."""
    moved_in = {target for _, target, _ in manifest["moves"]}
    removed = set(manifest.get("removed", [m for g in manifest["groups"] for m in g["members"]]))
    for name in restored_folders(manifest):
        folder = persons_dir / name
        if name in removed:
            if folder.exists() and any(folder.iterdir()):
                raise MergeError(f"{name} exists again and is not empty; nothing was changed")
            continue
        if not folder.is_dir():
            raise MergeError(f"{folder} no longer exists; restore from {backup} by hand")
        _check_only_merged(folder, set(file_sizes(backup / name)), moved_in)
    for name in manifest.get("created", []):
        if (persons_dir / name).is_dir():
            _check_only_merged(persons_dir / name, set(), moved_in)


def _check_only_merged(folder: Path, original: set[str], moved_in: set[str]) -> None:
    for name in file_sizes(folder):
        if is_temporary(Path(name).name):
            continue  # left by a write killed midway: not a file the undo could lose
        if name != METADATA_FILENAME and name not in original and f"{folder.name}/{name}" not in moved_in:
            raise MergeError(
                f"{folder.name}/{name} was added after the merge; undo would drop it, so nothing was changed"
            )


def finish_undo(
    persons_dir: Path,
    backup: Path,
    staging: Path,
    folders: Sequence[str],
    journal: Journal,
    entries: Sequence[dict[str, Any]],
    created: Sequence[str] = (),
) -> None:
    """Swap each restored folder into place, set aside the folders the merge created (split-off
    parts), drop the merged versions and file the journal. ``entries``: the journal so far, when
    an interrupted undo is being finished."""
    if "staging_removed" not in {e["op"] for e in entries}:
        _swap_in(persons_dir, staging, folders, journal)
        _set_aside_created(persons_dir, staging, created, journal)
        # every file of the merged versions is also in the backup (checked before starting)
        shutil.rmtree(staging, ignore_errors=True)
        journal.append({"op": "staging_removed"})
    manifest = read_manifest(backup) or {}
    if manifest.get("state") != "undone":
        write_manifest(backup, {**manifest, "state": "undone", "undone_at": datetime.now(UTC).isoformat()})
    journal.append({"op": "manifest", "state": "undone"})
    journal.append({"op": "done"})
    journal.file_into(backup, "undo_journal.jsonl")


def _set_aside_created(persons_dir: Path, staging: Path, created: Sequence[str], journal: Journal) -> None:
    aside = staging / ".merged"
    for name in created:
        folder = persons_dir / name
        if folder.exists():  # every file in it came from a backed-up folder (checked before starting)
            aside.mkdir(parents=True, exist_ok=True)
            os.rename(folder, aside / name)
            journal.append({"op": "unmade", "folder": name}, f"{PREFIX}unmade")
    fsync_dir(persons_dir)


def _swap_in(persons_dir: Path, staging: Path, folders: Sequence[str], journal: Journal) -> None:
    aside = staging / ".merged"
    for name in folders:
        restored, current = staging / name, persons_dir / name
        if not restored.exists():
            continue  # swapped in already
        if current.exists():
            if (aside / name).exists():
                raise MergeError(f"cannot finish the undo: both {current} and {aside / name} exist")
            aside.mkdir(exist_ok=True)
            os.rename(current, aside / name)
        os.rename(restored, current)
        journal.append({"op": "restored", "folder": name}, f"{PREFIX}restored")
    fsync_dir(persons_dir)
