"""What a merge will do, decided before anything changes: every file move with its final
name and size, and each survivor's combined ``track.json``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import MergeError
from ..core.persons import METADATA_FILENAME, is_person_folder, read_track_metadata


@dataclass
class Group:
    survivor: str  # folder names inside persons/
    members: list[str]  # folders merged into the survivor


@dataclass
class Move:
    source: str  # paths relative to persons/
    target: str
    size: int

    @property
    def kind(self) -> str:
        """``renamed`` when the file takes a new name to avoid a collision, else ``plain``."""
        return "plain" if self.source.rsplit("/", 1)[-1] == self.target.rsplit("/", 1)[-1] else "renamed"


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
            path = Path(persons_dir) / name
            if Path(name).name != name or not is_person_folder(path):
                raise MergeError(f"{path} is not a person folder")


def plan_moves(persons_dir: Path, groups: Sequence[Group]) -> list[Move]:
    """Every file of every member folder, with a name in its survivor that no file has or will have."""
    moves = []
    for group in groups:
        taken = {p.name for p in (persons_dir / group.survivor).iterdir()}
        for member in group.members:
            for path in sorted((persons_dir / member).iterdir()):
                if path.name == METADATA_FILENAME or path.is_symlink() or not path.is_file():
                    continue  # metadata is combined separately; links and sub-folders stay put
                name = free_name(path.name, member, taken)
                taken.add(name)
                moves.append(Move(f"{member}/{path.name}", f"{group.survivor}/{name}", path.stat().st_size))
    return moves


def free_name(name: str, member: str, taken: set[str]) -> str:
    """``name``, or ``<stem>__<member>[_n]<suffix>`` if it is taken.

    >>> free_name("a.jpg", "id_2", {"a.jpg", "a__id_2.jpg"})
    'a__id_2_2.jpg'
    """
    if name not in taken:
        return name
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, dot + suffix) if dot else (name, "")
    candidate, n = f"{stem}__{member}{suffix}", 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}__{member}_{n}{suffix}"
    return candidate


def _tracks_of(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The tracks a folder's metadata describes: its merged ``tracks``, or the folder's own track."""
    if isinstance(metadata.get("tracks"), list):
        return metadata["tracks"]
    if not metadata:
        return []
    return [{k: v for k, v in metadata.items() if k not in ("crops", "schema", "merged_from")}]


def combined_metadata(persons_dir: Path, group: Group, moves: Sequence[Move]) -> dict[str, Any]:
    """The survivor's new ``track.json``: every merged track, and every crop under its new name."""
    renamed = {m.source: m.target.split("/", 1)[1] for m in moves}
    tracks: list[dict[str, Any]] = []
    crops: list[dict[str, Any]] = []
    for folder in [group.survivor, *group.members]:
        metadata = read_track_metadata(persons_dir / folder) or {}
        tracks.extend(_tracks_of(metadata))
        for crop in metadata.get("crops", []) if isinstance(metadata.get("crops"), list) else []:
            if not isinstance(crop, dict) or "file" not in crop:
                continue
            new_name = renamed.get(f"{folder}/{crop['file']}", crop["file"])
            crops.append({**crop, "file": new_name, "source_folder": crop.get("source_folder", folder)})
    listed = {c["file"] for c in crops}
    for move in moves:  # crops of folders without metadata are listed too
        folder = move.source.split("/", 1)[0]
        new_folder, new_name = move.target.split("/", 1)
        if new_folder == group.survivor and folder in group.members and new_name not in listed:
            crops.append({"file": new_name, "source_folder": folder})
            listed.add(new_name)
    survivor = read_track_metadata(persons_dir / group.survivor) or {}
    merged_from = list(survivor.get("merged_from", [])) + list(group.members)
    return {
        "schema": 1,
        "person_id": survivor.get("person_id"),
        "merged_from": merged_from,
        "tracks": tracks,
        "crops": crops,
    }
