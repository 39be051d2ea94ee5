"""The journal of a merge or an undo: one fsynced JSON line per step, so a killed run can be
finished (or rolled back) by the next one.

Every step of a merge or undo that changes the disk is journaled, so the fault points the
tests kill at sit here: just before a step is journaled (``before:<step>``: done but not yet
recorded) and just after (``<step>``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..core.errors import MergeError
from ..core.files import fsync_dir
from .faults import fault_point

MERGE_JOURNAL = ".merge_journal.jsonl"
UNDO_JOURNAL = ".undo_journal.jsonl"


def step_name(entry: dict[str, Any]) -> str:
    """``moved:3``, ``metadata:id_1``, ``manifest:merging``, ``done``: what a journal line records."""
    qualifier = next((entry[key] for key in ("k", "folder", "state") if key in entry), None)
    return entry["op"] if qualifier is None else f"{entry['op']}:{qualifier}"


class Journal:
    """Append-only JSON lines in ``path``; a line is fsynced before its step counts as done.
    ``prefix`` names the fault points (``undo:`` for an undo)."""

    def __init__(self, path: Path, prefix: str = "") -> None:
        self.path = Path(path)
        self.prefix = prefix

    def append(self, entry: dict[str, Any], *also: str) -> None:
        """Record a step; ``also``: more names for its fault point (e.g. ``moved:last``)."""
        name = self.prefix + step_name(entry)
        fault_point(f"before:{name}", *(f"before:{other}" for other in also))
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        fault_point(name, *also)

    def read(self) -> list[dict[str, Any]]:
        """The steps recorded so far; a line torn by a crash ends the list (its step did not complete)."""
        entries = []
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    break
        return entries

    def file_into(self, folder: Path, name: str) -> None:
        """The run is complete: move the journal into ``folder`` (the backup) as ``name``."""
        os.replace(self.path, Path(folder) / name)
        fsync_dir(self.path.parent)
        fault_point(f"{self.prefix}journal_filed")


def interrupted(persons_dir: Path) -> bool:
    """Whether a merge or an undo was interrupted and must be finished (or rolled back) first."""
    return (Path(persons_dir) / MERGE_JOURNAL).exists() or (Path(persons_dir) / UNDO_JOURNAL).exists()


def refuse_if_interrupted(persons_dir: Path) -> None:
    if interrupted(persons_dir):
        raise MergeError("an interrupted merge or undo must be finished first (run the script again)")
