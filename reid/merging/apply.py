"""Merging person folders without ever losing or duplicating a crop.

A merge runs in steps, each recorded in the journal (``persons/.merge_journal.jsonl``, see
``journal.py``) so a killed run can be finished by the next one:

1. ``begin``: the whole plan (every file move with its final name and size, the new
   metadata, the folders to remove) is written before anything changes.
2. Backup: every affected folder is copied to ``backup_before_merge/<timestamp>/`` and the
   copy is verified (file count and sizes); then ``backup_verified``.
3. Moves: each file is hard-linked to its new name (which fails rather than overwrite),
   the size checked, then the old name removed; a ``moved`` line per file.
4. The survivor's ``track.json`` combines the merged tracks; ``metadata``.
5. The emptied folders are removed; ``removed``; then ``done``, and the journal is filed
   in the backup folder with the plan (``merge.json``).

A journal without ``backup_verified`` is rolled back by the next run (nothing was moved yet;
the partial backup is deleted); any later one is rolled forward, every step being safe to
repeat (see ``recovery.py``). Every function that changes folders holds the persons folder's
exclusive lease (``reid.core.lease``): a tracking run still filling folders makes it refuse.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import BACKUP_DIRNAME
from ..core.errors import MergeError
from ..core.files import atomic_write_json, is_temporary
from ..core.lease import Lease, held_exclusively
from ..core.track_metadata import METADATA_FILENAME
from .backup import Progress, copy_folders, timestamp, write_manifest
from .faults import fault_point
from .journal import MERGE_JOURNAL, Journal, refuse_if_interrupted
from .plan import Group, Move, Split, make_plan


@dataclass
class MergeResult:
    backup: Path
    groups: int
    folders_removed: int
    files_moved: int
    errors: list[str] = field(default_factory=list)
    folders_created: int = 0  # by splits


def merge(
    persons_dir: Path,
    groups: Sequence[Group],
    progress: Progress | None = None,
    lease: Lease | None = None,
    splits: Sequence[Split] = (),
) -> MergeResult:
    """Back up, then split off parts of folders (``splits``) and merge each group's members into
    its survivor, in one journaled plan. See the module docstring.

    ``lease``: the persons folder's exclusive lease if the caller holds it; else it is taken here.
    """
    persons_dir = Path(persons_dir)
    with held_exclusively(persons_dir, lease, "merging"):
        refuse_if_interrupted(persons_dir)
        made = make_plan(persons_dir, groups, splits)
        stamp = timestamp()
        backup = persons_dir / BACKUP_DIRNAME / stamp
        plan = {
            "op": "begin",
            "timestamp": stamp,
            "backup": f"{BACKUP_DIRNAME}/{stamp}",
            "groups": [{"survivor": g.survivor, "members": g.members} for g in groups],
            "splits": [{"folder": s.folder, "files": s.files, "new_folder": s.new_folder} for s in splits],
            "backed_up": made.backed_up,
            "created": made.created,
            "removed": made.removed,
            "moves": [[m.source, m.target, m.size] for m in made.moves],
            "metadata": made.metadata,
        }
        journal = Journal(persons_dir / MERGE_JOURNAL)
        journal.append(plan)
        try:
            copy_folders(persons_dir, made.backed_up, backup, progress)
        except BaseException:
            roll_back(persons_dir, plan)  # nothing was moved: drop the partial backup and the journal
            raise
        write_manifest(backup, {**manifest_of(plan), "state": "merging"})
        journal.append({"op": "manifest", "state": "merging"})
        journal.append({"op": "backup_verified"})
        try:
            return roll_forward(persons_dir, plan, journal, [], progress)
        except OSError as exc:
            raise MergeError(
                f"the merge stopped ({exc.strerror or exc}); no crop was lost: every file is in its folder or in "
                f"{backup}. Fix the cause and run the script again to finish it"
            ) from None


def manifest_of(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if k != "op"}


def roll_back(persons_dir: Path, plan: dict[str, Any]) -> None:
    """Undo a merge that had not moved anything yet: its partial backup and its journal go."""
    shutil.rmtree(persons_dir / plan["backup"], ignore_errors=True)
    (persons_dir / MERGE_JOURNAL).unlink(missing_ok=True)


def roll_forward(
    persons_dir: Path,
    plan: dict[str, Any],
    journal: Journal,
    entries: Sequence[dict[str, Any]],
    progress: Progress | None,
) -> MergeResult:
    """Do (or finish) every step after the backup; each is safe to repeat. ``entries``: the
    journal so far (empty for a fresh merge); its problems are kept in the manifest."""
    finished = {f"{e['op']}:{e.get('k', e.get('folder'))}" for e in entries}
    errors = [e["message"] for e in entries if e.get("op") == "error"]

    def problem(message: str) -> None:
        errors.append(message)
        journal.append({"op": "error", "message": message})  # a recovery keeps it in the manifest

    for folder in plan.get("created", []):
        if f"created:{folder}" not in finished:
            (persons_dir / folder).mkdir(exist_ok=True)  # a split-off part: a new person folder
            journal.append({"op": "created", "folder": folder}, "created")
    moves = [Move(*m) for m in plan["moves"]]
    for k, move in enumerate(moves):
        if f"moved:{k}" not in finished:
            move_file(persons_dir, move, k, problem)
            journal.append(
                {"op": "moved", "k": k}, f"moved:{move.kind}", *(["moved:last"] if k == len(moves) - 1 else [])
            )
        if progress:
            progress("merging", k + 1, len(moves), move.source.split("/")[0])
    for survivor, metadata in plan["metadata"].items():
        if f"metadata:{survivor}" not in finished:
            atomic_write_json(persons_dir / survivor / METADATA_FILENAME, metadata)
            journal.append({"op": "metadata", "folder": survivor}, "metadata")
    for member in removed_folders(plan):
        if f"removed:{member}" not in finished:
            remove_member(persons_dir / member, problem)
            journal.append({"op": "removed", "folder": member}, "removed")
    backup = persons_dir / plan["backup"]
    write_manifest(backup, {**manifest_of(plan), "state": "merged", "errors": errors})
    journal.append({"op": "manifest", "state": "merged"})
    journal.append({"op": "done"})
    journal.file_into(backup, "journal.jsonl")
    removed = sum(not (persons_dir / m).exists() for m in removed_folders(plan))
    return MergeResult(backup, len(plan["groups"]), removed, len(moves), errors, len(plan.get("created", [])))


def removed_folders(plan: dict[str, Any]) -> list[str]:
    """The folders a plan empties (plans written before splits existed list only group members)."""
    return plan.get("removed", [m for group in plan["groups"] for m in group["members"]])


def move_file(persons_dir: Path, move: Move, k: int, problem: Callable[[str], None]) -> None:
    """Give the file its new name, then drop the old one; never overwrite, never lose."""
    source, target = persons_dir / move.source, persons_dir / move.target
    if source.exists() and target.exists():
        if os.path.samefile(source, target):
            source.unlink()  # killed between link and unlink last time
        else:
            problem(f"{move.target} already exists; {move.source} was left in place")
        return
    if not source.exists():
        if not target.exists():
            problem(f"{move.source} is missing (its copy is in the backup)")
        return  # already moved
    try:
        os.link(source, target)  # fails if the target exists: nothing is ever overwritten
    except FileExistsError:
        problem(f"{move.target} appeared during the merge; {move.source} was left in place")
        return
    except OSError:
        _move_without_links(source, target)  # filesystems without hard links
        return
    fault_point(f"linked:{k}", f"linked:{move.kind}")
    if target.stat().st_size != move.size:
        raise MergeError(f"{move.target} does not have the size of {move.source}; merge stopped, nothing lost")
    source.unlink()


def _move_without_links(source: Path, target: Path) -> None:
    # Under the exclusive lease nothing else writes here, so checking first is enough.
    if target.exists():
        raise MergeError(f"{target} already exists")
    os.rename(source, target)


def remove_member(folder: Path, problem: Callable[[str], None]) -> None:
    """Remove a merged-away folder: its metadata (kept in the survivor and the backup) and the
    temporaries of writes killed midway (kept in the backup), then the folder itself, only if
    nothing else is left in it."""
    (folder / METADATA_FILENAME).unlink(missing_ok=True)
    fault_point("removing")
    for leftover in folder.iterdir() if folder.is_dir() else ():
        if is_temporary(leftover.name) and not leftover.is_symlink() and leftover.is_file():
            leftover.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        left = sorted(p.name for p in folder.iterdir())
        problem(f"{folder.name} was kept: it still holds {', '.join(left[:5])}")
