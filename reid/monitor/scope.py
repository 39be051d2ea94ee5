"""Which sections of ``status.json`` describe the persons folder the monitor serves.

``status.json`` is one file in the working folder, shared by every run, so its sections may describe
different persons folders: tracking on ``persons/`` while the last merge was on ``other/persons``.
Each script records the folder a section describes (``persons_dir``, resolved and absolute). The
monitor serves one folder (``--persons``) and takes in only the sections about it; a section about
another folder is *elsewhere*: named as such, none of its numbers shown, and left out of every
verdict of the served folder. A section that names no folder (idle, or written by hand or by an older
version) is taken to be about the served folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.paths import absolute, shown_path
from ..core.status import SECTIONS


@dataclass(frozen=True)
class Scope:
    served: Path  # the persons folder the monitor serves, absolute
    elsewhere: dict[str, Path] = field(default_factory=dict)  # section -> the other folder it describes

    def owns(self, name: str) -> bool:
        return name not in self.elsewhere

    @property
    def owned(self) -> tuple[str, ...]:
        return tuple(name for name in SECTIONS if self.owns(name))


def section_folder(section: Mapping[str, Any], status_file: Path) -> Path | None:
    """The persons folder a section names, absolute; None when it names none. A relative path (written
    by an older version, relative to where it ran) is taken relative to status.json's folder, which is
    the working folder of the scripts that share it."""
    value = section.get("persons_dir")
    if not isinstance(value, str) or not value:
        return None
    path = Path(value).expanduser()
    return absolute(path if path.is_absolute() else Path(status_file).absolute().parent / path)


def scope_of(doc: Mapping[str, Any], served: Path, status_file: Path) -> Scope:
    served = absolute(served)
    elsewhere = {}
    for name in SECTIONS:
        folder = section_folder(doc[name], status_file)
        if folder is not None and folder != served:
            elsewhere[name] = folder
    return Scope(served, elsewhere)


def whose(section: Mapping[str, Any], scope: Scope, name: str, status_file: Path) -> dict[str, Any]:
    """The fields every stage view carries: which folder and run it describes, and whether that is
    the served folder."""
    folder = section_folder(section, status_file)
    run_id = section.get("run_id")
    return {
        "persons_dir": shown_path(folder) if folder is not None else None,
        "run_id": run_id if isinstance(run_id, str) else None,
        "this_folder": scope.owns(name),
    }
