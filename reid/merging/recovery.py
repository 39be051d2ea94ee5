"""An interrupted merge or undo: said (``pending``, for a dry run) or finished (``recover``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..core.errors import MergeError
from ..core.lease import Lease, held_exclusively
from .apply import roll_back, roll_forward
from .backup import Progress
from .journal import MERGE_JOURNAL, UNDO_JOURNAL, Journal, interrupted
from .undo import PREFIX, finish_undo


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def pending(persons_dir: Path) -> str | None:
    """What the next merge or undo will first do about an interrupted one; None if there is
    none. Reads only: a dry run uses it to report without changing anything."""
    persons_dir = Path(persons_dir)
    if (persons_dir / UNDO_JOURNAL).exists():
        if "staged" in {e.get("op") for e in Journal(persons_dir / UNDO_JOURNAL).read()}:
            return "an interrupted undo is pending: the next run will finish restoring the folders"
        return "an interrupted undo is pending: the next run will roll it back (it had not changed any folder)"
    if not (persons_dir / MERGE_JOURNAL).exists():
        return None
    entries = Journal(persons_dir / MERGE_JOURNAL).read()
    if not entries or entries[0].get("op") != "begin":
        return "an interrupted merge left an empty journal: the next run will remove it"
    groups = _plural(len(entries[0].get("groups", [])), "group")
    if "backup_verified" not in {e.get("op") for e in entries}:
        return (
            f"an interrupted merge of {groups} is pending: the next run will roll it back (it had not moved anything)"
        )
    return (
        f"an interrupted merge of {groups} is pending: the next run will finish it (backup in {entries[0]['backup']})"
    )


def recover(persons_dir: Path, progress: Progress | None = None, lease: Lease | None = None) -> str | None:
    """Finish or roll back an interrupted merge or undo; a sentence saying what was done, or None."""
    persons_dir = Path(persons_dir)
    if not interrupted(persons_dir):
        return None
    with held_exclusively(persons_dir, lease, "recovering an interrupted merge"):
        if (persons_dir / UNDO_JOURNAL).exists():
            return _recover_undo(persons_dir)
        journal = Journal(persons_dir / MERGE_JOURNAL)
        entries = journal.read()
        if not entries or entries[0].get("op") != "begin":
            (persons_dir / MERGE_JOURNAL).unlink()
            return "an interrupted merge had not started changing anything; its empty journal was removed"
        plan = entries[0]
        if "backup_verified" not in {e["op"] for e in entries}:
            roll_back(persons_dir, plan)
            return "an interrupted merge was rolled back (it had not moved anything yet)"
        try:
            result = roll_forward(persons_dir, plan, journal, entries, progress)
        except OSError as exc:
            raise MergeError(
                f"finishing an interrupted merge stopped ({exc.strerror or exc}); no crop was lost: fix the cause "
                f"and run the script again"
            ) from None
        return f"an interrupted merge was finished: {_plural(result.groups, 'group')}, backup in {result.backup}"


def _recover_undo(persons_dir: Path) -> str:
    journal = Journal(persons_dir / UNDO_JOURNAL, PREFIX)
    entries = journal.read()
    begin = entries[0] if entries and entries[0].get("op") == "begin" else None
    if begin is None or "staged" not in {e["op"] for e in entries}:
        if begin:
            shutil.rmtree(persons_dir / begin["staging"], ignore_errors=True)
        (persons_dir / UNDO_JOURNAL).unlink()
        return "an interrupted undo was rolled back (it had not changed any folder yet)"
    backup = persons_dir / begin["backup"]
    finish_undo(
        persons_dir,
        backup,
        persons_dir / begin["staging"],
        begin["folders"],
        journal,
        entries,
        begin.get("created", []),
    )
    return f"an interrupted undo was finished: the merge backed up in {backup.name} is undone"
