"""What a merge will do, decided before anything changes: which folders are created and
removed, every file move with its final name and size, and each resulting folder's
``track.json``.

A plan combines *splits* (part of a folder's crops become a new person folder: a tracker
handed one person's id to another) and *groups* (folders merged into a survivor). It is made
of units: every folder taking part, less the crops split off, and every split-off part. Each
unit ends in one final folder (its group's survivor, or itself), and each file moves at most
once, straight from where it is to that folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import MergeError
from ..core.files import is_temporary
from ..core.persons import is_person_folder, parse_person_id
from ..core.track_metadata import (
    METADATA_FILENAME,
    METADATA_SCHEMA,
    as_box,
    crops_of,
    is_merged,
    read_track_metadata,
    tracks_of,
)


@dataclass
class Group:
    survivor: str  # folder names inside persons/ (a split's new folder may take part)
    members: list[str]  # folders merged into the survivor


@dataclass
class Split:
    folder: str  # an existing person folder
    files: list[str]  # the crops that leave it ...
    new_folder: str  # ... for a new person folder of this (free) name


@dataclass
class Move:
    source: str  # paths relative to persons/
    target: str
    size: int

    @property
    def kind(self) -> str:
        """``renamed`` when the file takes a new name to avoid a collision, else ``plain``."""
        return "plain" if self.source.rsplit("/", 1)[-1] == self.target.rsplit("/", 1)[-1] else "renamed"


@dataclass
class Plan:
    moves: list[Move]
    created: list[str]  # new person folders (split-off parts that are not merged into another)
    removed: list[str]  # folders left empty
    metadata: dict[str, dict[str, Any]]  # final folder -> its new track.json
    backed_up: list[str]  # the existing folders taking part, copied before anything changes
    units: dict[str, list[str]] = field(default_factory=dict)  # unit -> the files it holds (where they are)


def check_plan(persons_dir: Path, groups: Sequence[Group], splits: Sequence[Split] = ()) -> None:
    """``MergeError`` unless every group is a survivor plus at least one other unit, no unit
    takes part twice, every existing name is a person folder directly in ``persons_dir``, and
    every split names files of its folder and a name no folder has."""
    new = {s.new_folder for s in splits}
    for split in splits:
        path = Path(persons_dir) / split.folder
        if Path(split.folder).name != split.folder or not is_person_folder(path):
            raise MergeError(f"{path} is not a person folder")
        if Path(split.new_folder).name != split.new_folder or (Path(persons_dir) / split.new_folder).exists():
            raise MergeError(f"the new folder {split.new_folder} of a split exists already")
        missing = [f for f in split.files if not (path / f).is_file() or f == METADATA_FILENAME]
        if not split.files or missing:
            raise MergeError(f"the split of {split.folder} names files it does not hold: {', '.join(missing[:3])}")
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
            if name not in new and (Path(name).name != name or not is_person_folder(path)):
                raise MergeError(f"{path} is not a person folder")


def make_plan(persons_dir: Path, groups: Sequence[Group], splits: Sequence[Split] = ()) -> Plan:
    """The plan of ``groups`` and ``splits`` (checked with ``check_plan`` first)."""
    persons_dir = Path(persons_dir)
    check_plan(persons_dir, groups, splits)
    units, origin = _units(persons_dir, groups, splits)
    final = {unit: unit for unit in units}
    for group in groups:
        for member in group.members:
            final[member] = group.survivor
    moves = _moves(persons_dir, units, origin, final)
    new = {s.new_folder for s in splits}
    finals = sorted(set(final.values()))
    removed = sorted(folder for folder in set(origin.values()) if folder not in finals)  # every file moved out
    renamed = {m.source: m.target.split("/", 1)[1] for m in moves}
    metadata = {
        target: _combined(persons_dir, target, [u for u in units if final[u] == target], units, origin, renamed, splits)
        for target in finals
    }
    backed_up = sorted(set(origin.values()))
    return Plan(moves, sorted(f for f in finals if f in new), removed, metadata, backed_up, units)


def _units(
    persons_dir: Path, groups: Sequence[Group], splits: Sequence[Split]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Every unit taking part with its files, and the folder each unit's files are in now."""
    names = {name for g in groups for name in (g.survivor, *g.members)} | {s.folder for s in splits}
    new = {s.new_folder: s for s in splits}
    units: dict[str, list[str]] = {}
    origin: dict[str, str] = {}
    for name in sorted(names - set(new)):
        leaving = {f for s in splits if s.folder == name for f in s.files}
        units[name] = [f for f in _files(persons_dir / name) if f not in leaving]
        origin[name] = name
    for name, split in new.items():
        units[name] = list(split.files)
        origin[name] = split.folder
    return units, origin


def _files(folder: Path) -> list[str]:
    """The files that move with a folder: all but its metadata (combined separately), links,
    sub-folders and the temporaries of writes killed midway (not crops: they stay, and are backed up)."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name != METADATA_FILENAME and not is_temporary(p.name) and not p.is_symlink() and p.is_file()
    )


def _moves(persons_dir: Path, units: dict[str, list[str]], origin: dict[str, str], final: dict[str, str]) -> list[Move]:
    taken = {target: _names_in(persons_dir / target) for target in set(final.values())}
    moves = []
    for unit, files in units.items():
        source, target = origin[unit], final[unit]
        if source == target:
            continue
        for file in files:
            name = free_name(file, unit, taken[target])
            taken[target].add(name)
            moves.append(Move(f"{source}/{file}", f"{target}/{name}", (persons_dir / source / file).stat().st_size))
    return moves


def _names_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


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


def _combined(
    persons_dir: Path,
    target: str,
    members: list[str],
    units: dict[str, list[str]],
    origin: dict[str, str],
    renamed: dict[str, str],
    splits: Sequence[Split],
) -> dict[str, Any]:
    """A final folder's new ``track.json``: the tracks of its units (a split part's track cut to
    its crops' frames), and every crop under its new name."""
    tracks: list[dict[str, Any]] = []
    crops: list[dict[str, Any]] = []
    for unit in sorted(members, key=lambda u: (u != target, u)):
        metadata = read_track_metadata(persons_dir / origin[unit]) or {}
        held = set(units[unit])
        unit_crops = [c for c in crops_of(metadata) if c["file"] in held]
        parts = tracks_of(metadata)
        if (origin[unit] != unit or any(s.folder == unit for s in splits)) and not is_merged(metadata):
            parts = [_cut(track, unit_crops) for track in parts]  # one track, split in time
        tracks.extend(parts)
        listed = set()
        for crop in unit_crops:
            source = f"{origin[unit]}/{crop['file']}"
            crops.append(
                {**crop, "file": renamed.get(source, crop["file"]), "source_folder": crop.get("source_folder", unit)}
            )
            listed.add(crop["file"])
        for file in held - listed:  # crops of folders without metadata are listed too
            source = f"{origin[unit]}/{file}"
            crops.append({"file": renamed.get(source, file), "source_folder": unit})
    own = read_track_metadata(persons_dir / origin[target]) or {}
    created = origin[target] != target
    merged_from = ([] if created else list(own.get("merged_from", []))) + [u for u in members if u != target]
    person_id = parse_person_id(target) if created else own.get("person_id")
    document = {
        "schema": METADATA_SCHEMA,
        "person_id": person_id,
        "merged_from": merged_from,
        "tracks": tracks,
        "crops": crops,
    }
    split_off = [s.new_folder for s in splits if s.folder == target]
    if split_off:
        document["split_off"] = split_off
    if created:
        document["split_from"] = origin[target]
    return document


def _cut(track: dict[str, Any], crops: list[dict[str, Any]]) -> dict[str, Any]:
    """A split track limited to its remaining crops: its segments, frames, times and boxes become
    those of its first and last crop (the track's own ends may show the other person). An end
    whose crop has no recorded box is unknown (None): no continuation can be read from it."""
    dated = sorted((c for c in crops if isinstance(c.get("frame"), int)), key=lambda c: c["frame"])
    if not dated or not isinstance(track.get("segments"), list):
        return {**track, "first_box": None, "last_box": None}
    low, high = dated[0]["frame"], dated[-1]["frame"]
    segments = [[max(a, low), min(b, high)] for a, b in track["segments"] if b >= low and a <= high]
    cut = {
        **track,
        "segments": segments,
        "first_frame": low,
        "last_frame": high,
        "frames_seen": sum(b - a + 1 for a, b in segments),
        "first_box": _box_of(dated[0]),
        "last_box": _box_of(dated[-1]),
        "good_crops": any(not (c.get("low_resolution") or c.get("at_edge")) for c in crops),
    }
    fps = track.get("fps")
    if isinstance(fps, (int, float)) and fps > 0:
        cut.update(first_time_s=round(low / fps, 3), last_time_s=round(high / fps, 3))
    else:  # the whole track's times would be wrong
        cut.pop("first_time_s", None)
        cut.pop("last_time_s", None)
    return cut


def _box_of(crop: dict[str, Any]) -> list[float] | None:
    box = as_box(crop.get("box"))
    return list(box) if box is not None else None


def plan_moves(persons_dir: Path, groups: Sequence[Group], splits: Sequence[Split] = ()) -> list[Move]:
    """Every file move of the plan, with a name in its final folder that no file has or will have."""
    return make_plan(persons_dir, groups, splits).moves
