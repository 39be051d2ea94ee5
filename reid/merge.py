"""Merging person folders without ever losing or duplicating a crop.

A merge runs in steps, each recorded as one fsynced line of a journal
(``persons/.merge_journal.jsonl``) so a killed run can be finished by the next one:

1. ``begin``: the whole plan (every file move with its final name and size, the new
   metadata, the folders to remove) is written before anything changes.
2. Backup: every affected folder is copied to ``backup_before_merge/<timestamp>/`` and the
   copy is verified (file count and sizes); then ``backup_verified``.
3. Moves: each file is hard-linked to its new name (which fails rather than overwrite),
   the size checked, then the old name removed; a ``moved`` line per file.
4. The survivor's ``track.json`` combines the merged tracks; ``metadata``.
5. The emptied folders are removed; ``removed``; then ``done``, and the journal is filed
   in the backup folder with the plan (``merge.json``).

Recovery (``recover``): a journal without ``backup_verified`` is rolled back (nothing was
moved yet; the partial backup is deleted); any later one is rolled forward, every step
being idempotent. ``undo_last`` restores the last merge from its backup, journaled the
same way (``persons/.undo_journal.jsonl``).

Every function that changes folders holds the persons folder's exclusive lease (see
``reid.lease``): a tracking run still filling folders, or another merge, makes it refuse.

``REID_FAULT_AT`` (tests only) names a step at which the process kills itself, to prove
the above under SIGKILL; ``enospc@<step>`` raises "No space left on device" there instead.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import os
import shutil
import signal
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .config import BACKUP_DIRNAME
from .errors import OutputError, ReidError
from .fsutil import atomic_write_json, fsync_dir
from .lease import Lease
from .persons import METADATA_FILENAME, is_person_folder, read_track_metadata

log = logging.getLogger(__name__)

JOURNAL = ".merge_journal.jsonl"
UNDO_JOURNAL = ".undo_journal.jsonl"
MANIFEST = "merge.json"

Progress = Callable[[str, int, int, str], None]  # operation, done, total, current item


class MergeError(ReidError):
    """A merge or undo could not be done safely; nothing was lost."""


@dataclass
class Group:
    survivor: str  # folder names inside persons/
    members: list[str]  # folders merged into the survivor


@dataclass
class Move:
    source: str  # paths relative to persons/
    target: str
    size: int


@dataclass
class MergeResult:
    backup: Path
    groups: int
    folders_removed: int
    files_moved: int
    errors: list[str] = field(default_factory=list)


def fault_point(*names: str) -> None:
    """Tests only: when ``REID_FAULT_AT`` is one of ``names``, die here by SIGKILL (or, for
    ``enospc@<name>``, fail as a full disk would). A step may have several names, e.g.
    ``linked:3`` and ``linked:renamed``, so tests can name a kind of step, not only an index.
    ``REID_FAULT_TRACE=FILE`` appends every step reached to FILE, so a test can check that
    the kill tests cover them all."""
    trace = os.environ.get("REID_FAULT_TRACE")
    if trace:
        with open(trace, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(names) + "\n")
    wanted = os.environ.get("REID_FAULT_AT")
    if not wanted:
        return
    if wanted.startswith("enospc@") and wanted[len("enospc@"):] in names:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if wanted in names:
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def holding(persons_dir: Path, lease: Lease | None, action: str) -> Iterator[None]:
    """Run the block under the exclusive lease: the caller's (checked), or one taken for the block."""
    if lease is not None:
        if not (lease.exclusive_held and Path(lease.persons_dir).resolve() == Path(persons_dir).resolve()):
            raise ValueError(f"the lease passed in must be held exclusively on {persons_dir}")
        yield
        return
    with Lease(persons_dir, action).exclusive():
        yield


def _check_no_journal(persons_dir: Path) -> None:
    if (persons_dir / JOURNAL).exists() or (persons_dir / UNDO_JOURNAL).exists():
        raise MergeError("an interrupted merge or undo must be finished first (run the script again)")


class Journal:
    """Append-only JSON lines, each fsynced before the step it records is considered done."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[dict[str, Any]]:
        entries = []
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a line torn by a crash: the step it records did not complete
        return entries


def timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


# -- planning ---------------------------------------------------------------------------

def plan_moves(persons_dir: Path, groups: Sequence[Group]) -> list[Move]:
    """Every file of every member folder, with a name in its survivor that no file has or will have."""
    moves = []
    for group in groups:
        taken = {p.name for p in (persons_dir / group.survivor).iterdir()}
        for member in group.members:
            for path in sorted((persons_dir / member).iterdir()):
                if path.name == METADATA_FILENAME or path.is_symlink() or not path.is_file():
                    continue  # metadata is combined separately; links and sub-folders stay put
                name = _free_name(path.name, member, taken)
                taken.add(name)
                moves.append(Move(f"{member}/{path.name}", f"{group.survivor}/{name}", path.stat().st_size))
    return moves


def _free_name(name: str, member: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, dot + suffix) if dot else (name, "")
    candidate, n = f"{stem}__{member}{suffix}", 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}__{member}_{n}{suffix}"
    return candidate


def combined_metadata(persons_dir: Path, group: Group, moves: Sequence[Move]) -> dict[str, Any]:
    """The survivor's new ``track.json``: every merged track, and every crop under its new name."""
    renamed = {m.source: m.target.split("/", 1)[1] for m in moves}
    tracks: list[dict[str, Any]] = []
    crops: list[dict[str, Any]] = []
    for folder in [group.survivor, *group.members]:
        meta = read_track_metadata(persons_dir / folder) or {}
        folder_tracks = meta.get("tracks") if isinstance(meta.get("tracks"), list) else (
            [{k: v for k, v in meta.items() if k not in ("crops", "schema", "merged_from")}] if meta else [])
        tracks.extend(folder_tracks)
        for crop in meta.get("crops", []) if isinstance(meta.get("crops"), list) else []:
            if not isinstance(crop, dict) or "file" not in crop:
                continue
            new_name = renamed.get(f"{folder}/{crop['file']}", crop["file"])
            crops.append({**crop, "file": new_name, "source_folder": crop.get("source_folder", folder)})
    listed = {(c["source_folder"], c["file"]) for c in crops}
    for move in moves:  # crops of folders without metadata are listed too
        folder, old_name = move.source.split("/", 1)
        new_folder, new_name = move.target.split("/", 1)
        if new_folder == group.survivor and folder in group.members and (folder, new_name) not in listed \
                and not any(c["file"] == new_name for c in crops):
            crops.append({"file": new_name, "source_folder": folder})
    survivor_meta = read_track_metadata(persons_dir / group.survivor) or {}
    merged_from = list(survivor_meta.get("merged_from", [])) + list(group.members)
    return {"schema": 1, "person_id": survivor_meta.get("person_id"), "merged_from": merged_from,
            "tracks": tracks, "crops": crops}


# -- backup -----------------------------------------------------------------------------

def _file_sizes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def backup_folders(persons_dir: Path, folders: Sequence[str], backup: Path, progress: Progress | None = None,
                   step: str = "backup") -> None:
    """Copy each folder into ``backup`` and verify the copy; ``OutputError`` (e.g. a full disk)
    leaves the originals untouched. ``step`` names the fault points (``<step>:N`` after the
    N-th folder, ``<step>_file:N`` after the N-th file)."""
    files_copied = itertools.count(1)

    def copy_durably(source: str, target: str) -> str:
        shutil.copy2(source, target)
        with open(target, "rb") as handle:
            os.fsync(handle.fileno())
        fault_point(f"{step}_file:{next(files_copied)}")
        return target

    try:
        backup.mkdir(parents=True)
        for done, name in enumerate(folders):
            source, target = persons_dir / name, backup / name
            shutil.copytree(source, target, symlinks=True, copy_function=copy_durably)
            if _file_sizes(source) != _file_sizes(target):
                raise OutputError(f"the backup of {name} in {backup} does not match the original")
            fsync_dir(target)
            if progress:
                progress("backing up", done + 1, len(folders), name)
            fault_point(f"{step}:{done + 1}")
        fsync_dir(backup)
        fsync_dir(backup.parent)
    except OSError as exc:
        raise OutputError(f"copying into {backup} failed ({exc.strerror or exc}); nothing was changed") from None


# -- the merge --------------------------------------------------------------------------

def check_groups(persons_dir: Path, groups: Sequence[Group]) -> None:
    """``MergeError`` unless every group is a survivor plus at least one other folder, no folder
    takes part twice, and every name is a person folder directly in ``persons_dir``."""
    seen: set[str] = set()
    for group in groups:
        if not group.members:
            raise MergeError(f"the group of {group.survivor} has no member to merge into it")
        for name in (group.survivor, *group.members):
            if name in seen:
                role = "its own member" if name == group.survivor and name in group.members else "in two places"
                raise MergeError(f"{name} is {role} in the merge plan; nothing was changed")
            seen.add(name)
            path = persons_dir / name
            if Path(name).name != name or not is_person_folder(path):
                raise MergeError(f"{path} is not a person folder")


def merge(persons_dir: Path, groups: Sequence[Group], progress: Progress | None = None,
          lease: Lease | None = None) -> MergeResult:
    """Back up, then merge each group's members into its survivor. See the module docstring.

    ``lease``: the persons folder's exclusive lease if the caller holds it; else it is taken here.
    """
    persons_dir = Path(persons_dir)
    with holding(persons_dir, lease, "merging"):
        _check_no_journal(persons_dir)
        check_groups(persons_dir, groups)
        stamp = timestamp()
        backup = persons_dir / BACKUP_DIRNAME / stamp
        moves = plan_moves(persons_dir, groups)
        plan = {
            "op": "begin", "timestamp": stamp, "backup": f"{BACKUP_DIRNAME}/{stamp}",
            "groups": [{"survivor": g.survivor, "members": g.members} for g in groups],
            "moves": [[m.source, m.target, m.size] for m in moves],
            "metadata": {g.survivor: combined_metadata(persons_dir, g, moves) for g in groups},
        }
        journal = Journal(persons_dir / JOURNAL)
        journal.append(plan)
        fault_point("begin")
        folders = [name for g in groups for name in (g.survivor, *g.members)]
        try:
            backup_folders(persons_dir, folders, backup, progress)
        except BaseException:
            _roll_back(persons_dir, plan)  # nothing was moved: drop the partial backup and the journal
            raise
        atomic_write_json(backup / MANIFEST, {**{k: v for k, v in plan.items() if k != "op"}, "state": "merging"})
        fault_point("manifest:merging")
        journal.append({"op": "backup_verified"})
        fault_point("backup_verified")
        try:
            return _roll_forward(persons_dir, plan, journal, [], progress)
        except OSError as exc:
            raise MergeError(f"the merge stopped ({exc.strerror or exc}); no crop was lost: every file is in its "
                             f"folder or in {backup}. Fix the cause and run the script again to finish it") from None


def _roll_back(persons_dir: Path, plan: dict[str, Any]) -> None:
    shutil.rmtree(persons_dir / plan["backup"], ignore_errors=True)
    (persons_dir / JOURNAL).unlink(missing_ok=True)


def _finished_steps(entries: Sequence[dict[str, Any]]) -> set[str]:
    return {f"moved:{e['k']}" if e["op"] == "moved" else f"{e['op']}:{e.get('folder')}" for e in entries}


def _roll_forward(persons_dir: Path, plan: dict[str, Any], journal: Journal, entries: Sequence[dict[str, Any]],
                  progress: Progress | None) -> MergeResult:
    """Do (or finish) every step after the backup; each is safe to repeat. ``entries``: the
    journal so far (empty for a fresh merge); its problems are kept in the manifest."""
    finished = _finished_steps(entries)
    errors = [e["message"] for e in entries if e.get("op") == "error"]

    def problem(message: str) -> None:
        errors.append(message)
        journal.append({"op": "error", "message": message})  # a recovery keeps it in the manifest

    moves = [Move(*m) for m in plan["moves"]]
    for k, move in enumerate(moves):
        if f"moved:{k}" in finished:
            continue
        kind = _move_kind(move)
        _move_file(persons_dir, move, k, kind, problem)
        journal.append({"op": "moved", "k": k})
        fault_point(f"moved:{k}", f"moved:{kind}", *(["moved:last"] if k == len(moves) - 1 else []))
        if progress:
            progress("merging", k + 1, len(moves), move.source.split("/")[0])
    for survivor, metadata in plan["metadata"].items():
        if f"metadata:{survivor}" not in finished:
            fault_point("writing_metadata")
            atomic_write_json(persons_dir / survivor / METADATA_FILENAME, metadata)
            fault_point("metadata_unjournaled")
            journal.append({"op": "metadata", "folder": survivor})
            fault_point(f"metadata:{survivor}", "metadata")
    removed = 0
    for group in plan["groups"]:
        for member in group["members"]:
            if f"removed:{member}" not in finished:
                _remove_member(persons_dir / member, problem)
                journal.append({"op": "removed", "folder": member})
                fault_point(f"removed:{member}", "removed")
            removed += not (persons_dir / member).exists()
    backup = persons_dir / plan["backup"]
    manifest = {k: v for k, v in plan.items() if k != "op"}
    atomic_write_json(backup / MANIFEST, {**manifest, "state": "merged", "errors": errors})
    fault_point("manifest:merged")
    journal.append({"op": "done"})
    fault_point("done")
    os.replace(persons_dir / JOURNAL, backup / "journal.jsonl")
    fsync_dir(persons_dir)
    fault_point("journal_filed")
    return MergeResult(backup, len(plan["groups"]), removed, len(moves), errors)


def _move_kind(move: Move) -> str:
    """'renamed' when the file takes a new name to avoid a collision, else 'plain'."""
    return "plain" if move.source.rsplit("/", 1)[-1] == move.target.rsplit("/", 1)[-1] else "renamed"


def _move_file(persons_dir: Path, move: Move, k: int, kind: str, problem: Callable[[str], None]) -> None:
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
    fault_point(f"linked:{k}", f"linked:{kind}")
    if target.stat().st_size != move.size:
        raise MergeError(f"{move.target} does not have the size of {move.source}; merge stopped, nothing lost")
    source.unlink()


def _move_without_links(source: Path, target: Path) -> None:
    # Under the exclusive lease nothing else writes here, so checking first is enough.
    if target.exists():
        raise MergeError(f"{target} already exists")
    os.rename(source, target)


def _remove_member(folder: Path, problem: Callable[[str], None]) -> None:
    """Remove a merged-away folder: its metadata (kept in the survivor and the backup), then
    the folder itself, only if nothing else is left in it."""
    (folder / METADATA_FILENAME).unlink(missing_ok=True)
    fault_point("removing")
    for leftover in folder.glob(f".{METADATA_FILENAME}.*.tmp"):
        leftover.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        left = sorted(p.name for p in folder.iterdir())
        problem(f"{folder.name} was kept: it still holds {', '.join(left[:5])}")


def pending(persons_dir: Path) -> str | None:
    """What the next merge or undo will first do about an interrupted one; None if there is
    none. Reads only: a dry run uses it to report without changing anything."""
    persons_dir = Path(persons_dir)
    if (persons_dir / UNDO_JOURNAL).exists():
        entries = Journal(persons_dir / UNDO_JOURNAL).read()
        if "staged" in {e.get("op") for e in entries}:
            return "an interrupted undo is pending: the next run will finish restoring the folders"
        return "an interrupted undo is pending: the next run will roll it back (it had not changed any folder)"
    if not (persons_dir / JOURNAL).exists():
        return None
    entries = Journal(persons_dir / JOURNAL).read()
    if not entries or entries[0].get("op") != "begin":
        return "an interrupted merge left an empty journal: the next run will remove it"
    groups = len(entries[0].get("groups", []))
    if "backup_verified" not in {e.get("op") for e in entries}:
        return (f"an interrupted merge of {groups} group{'' if groups == 1 else 's'} is pending: the next run "
                f"will roll it back (it had not moved anything)")
    return (f"an interrupted merge of {groups} group{'' if groups == 1 else 's'} is pending: the next run will "
            f"finish it (backup in {entries[0].get('backup')})")


def recover(persons_dir: Path, progress: Progress | None = None, lease: Lease | None = None) -> str | None:
    """Finish or roll back an interrupted merge or undo; a sentence saying what was done, or None."""
    persons_dir = Path(persons_dir)
    if not (persons_dir / JOURNAL).exists() and not (persons_dir / UNDO_JOURNAL).exists():
        return None
    with holding(persons_dir, lease, "recovering an interrupted merge"):
        if (persons_dir / UNDO_JOURNAL).exists():
            return _recover_undo(persons_dir)
        journal = Journal(persons_dir / JOURNAL)
        entries = journal.read()
        if not entries or entries[0].get("op") != "begin":
            (persons_dir / JOURNAL).unlink()
            return "an interrupted merge had not started changing anything; its empty journal was removed"
        plan = entries[0]
        if "backup_verified" not in {e["op"] for e in entries}:
            _roll_back(persons_dir, plan)
            return "an interrupted merge was rolled back (it had not moved anything yet)"
        try:
            result = _roll_forward(persons_dir, plan, journal, entries, progress)
        except OSError as exc:
            raise MergeError(f"finishing an interrupted merge stopped ({exc.strerror or exc}); no crop was lost: "
                             f"fix the cause and run the script again") from None
        return f"an interrupted merge was finished: {result.groups} groups, backup in {result.backup}"


# -- undo -------------------------------------------------------------------------------

def _backups_newest_first(persons_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    root = Path(persons_dir) / BACKUP_DIRNAME
    if not root.is_dir():
        return []
    found = []
    for backup in sorted(root.iterdir(), reverse=True):
        manifest = _read_manifest(backup)
        if manifest:
            found.append((backup, manifest))
    return found


def last_merge(persons_dir: Path) -> Path | None:
    """The backup folder of the newest merge that has not been undone."""
    return next((backup for backup, m in _backups_newest_first(persons_dir) if m.get("state") == "merged"), None)


def _read_manifest(backup: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def nothing_to_undo(persons_dir: Path) -> MergeError:
    """Why there is no merge to undo: none was made, or the last one was undone already."""
    undone = [(b, m) for b, m in _backups_newest_first(persons_dir) if m.get("state") == "undone"]
    if undone:
        backup, manifest = undone[0]
        return MergeError(f"the last merge (backup {backup.name}) was already undone at "
                          f"{manifest.get('undone_at', 'an unknown time')}; there is no other merge to undo")
    return MergeError(f"no merge to undo in {Path(persons_dir) / BACKUP_DIRNAME}")


def undo_last(persons_dir: Path, progress: Progress | None = None,
              lease: Lease | None = None) -> tuple[Path, list[str]]:
    """Restore the folders of the last merge, byte for byte, from its backup.

    Refuses (``MergeError``) when a merged folder holds files the merge did not put there,
    since restoring would drop them.
    """
    persons_dir = Path(persons_dir)
    with holding(persons_dir, lease, "undoing the last merge"):
        _check_no_journal(persons_dir)
        backup = last_merge(persons_dir)
        if backup is None:
            raise nothing_to_undo(persons_dir)
        manifest = _read_manifest(backup)
        folders = [name for g in manifest["groups"] for name in (g["survivor"], *g["members"])]
        _check_undoable(persons_dir, backup, manifest)
        staging = persons_dir / f".undo-{backup.name}"
        journal = Journal(persons_dir / UNDO_JOURNAL)
        journal.append({"op": "begin", "backup": str(backup.relative_to(persons_dir)), "folders": folders,
                        "staging": staging.name})
        fault_point("undo:begin")
        try:
            backup_folders(backup, folders, staging, progress, step="undo:stage")  # the restored copies, verified
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            (persons_dir / UNDO_JOURNAL).unlink(missing_ok=True)
            raise
        journal.append({"op": "staged"})
        fault_point("undo:staged")
        _finish_undo(persons_dir, backup, staging, folders, journal, [])
        return backup, folders


def _check_undoable(persons_dir: Path, backup: Path, manifest: dict[str, Any]) -> None:
    moved_in = {target for _, target, _ in manifest["moves"]}
    for group in manifest["groups"]:
        survivor = persons_dir / group["survivor"]
        if not survivor.is_dir():
            raise MergeError(f"{survivor} no longer exists; restore from {backup} by hand")
        original = set(_file_sizes(backup / group["survivor"]))
        for name in _file_sizes(survivor):
            if name != METADATA_FILENAME and name not in original and f"{group['survivor']}/{name}" not in moved_in:
                raise MergeError(f"{survivor.name}/{name} was added after the merge; undo would drop it, "
                                 f"so nothing was changed")
        for member in group["members"]:
            if (persons_dir / member).exists() and any((persons_dir / member).iterdir()):
                raise MergeError(f"{member} exists again and is not empty; nothing was changed")


def _finish_undo(persons_dir: Path, backup: Path, staging: Path, folders: Sequence[str], journal: Journal,
                 entries: Sequence[dict[str, Any]]) -> None:
    """Swap each restored folder into place, then drop the merged versions and file the journal.
    Every step is journaled and safe to repeat, so a run killed anywhere here is finished by
    the next one (``entries``: the journal so far, when recovering)."""
    done = {e["op"] for e in entries}
    if "staging_removed" not in done:
        replaced = staging / ".merged"
        for name in folders:
            restored, current = staging / name, persons_dir / name
            if not restored.exists():
                continue  # swapped in already
            if current.exists():
                if (replaced / name).exists():
                    raise MergeError(f"cannot finish the undo: both {current} and {replaced / name} exist")
                replaced.mkdir(exist_ok=True)
                os.rename(current, replaced / name)
            os.rename(restored, current)
            journal.append({"op": "restored", "folder": name})
            fault_point(f"undo:restored:{name}", "undo:restored")
        fsync_dir(persons_dir)
        # every file of the merged versions is also in the backup (checked before starting)
        shutil.rmtree(staging, ignore_errors=True)
        journal.append({"op": "staging_removed"})
        fault_point("undo:staging_removed")
    manifest = _read_manifest(backup) or {}
    if manifest.get("state") != "undone":
        atomic_write_json(backup / MANIFEST, {**manifest, "state": "undone",
                                              "undone_at": datetime.now(timezone.utc).isoformat()})
    fault_point("undo:manifest")
    journal.append({"op": "done"})
    fault_point("undo:done")
    os.replace(persons_dir / UNDO_JOURNAL, backup / "undo_journal.jsonl")
    fsync_dir(persons_dir)
    fault_point("undo:journal_filed")


def _recover_undo(persons_dir: Path) -> str:
    journal = Journal(persons_dir / UNDO_JOURNAL)
    entries = journal.read()
    begin = entries[0] if entries and entries[0].get("op") == "begin" else None
    if begin is None or "staged" not in {e["op"] for e in entries}:
        if begin:
            shutil.rmtree(persons_dir / begin["staging"], ignore_errors=True)
        (persons_dir / UNDO_JOURNAL).unlink()
        return "an interrupted undo was rolled back (it had not changed any folder yet)"
    backup = persons_dir / begin["backup"]
    _finish_undo(persons_dir, backup, persons_dir / begin["staging"], begin["folders"], journal, entries)
    return f"an interrupted undo was finished: the merge backed up in {backup.name} is undone"
