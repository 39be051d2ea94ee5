"""The person's answers to ``--review-each``, kept in the persons folder and obeyed by every later plan.

An answer names folders by what they hold, not by their names, which merges and splits change: a
folder is the set of its tracks (or split-off parts of tracks), each known by its tracking run, its
video and its first and last frame (``piece_keys``); a merged folder holds the pieces of every folder
merged into it. What is kept (``.answers.json``, written atomically: a crash leaves the old answers
or the new, never half of them):

* ``apart``: two sets of pieces the person said are two people (a refused pair, a folder left out of
  a group, the parts of a split accepted). No later plan puts a folder holding one beside a folder
  holding the other: they are kept apart as folders seen at the same time are, through any group.
* ``whole``: the pieces of a folder whose proposed split was refused: it is not proposed again.
* ``refused_groups``: groups of three or more refused as a whole (the person did not say which
  member is wrong): no later group holding all of them is proposed.
* ``together``: two sets of pieces the person said are one person (each member of an accepted group
  beside its survivor). Nothing is enforced by them; with the ``apart`` pairs they teach each
  camera its threshold (``learning.py``), by the similarity each pair had when it was answered
  (``measured``; a file written before it was kept has none, and teaches nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..core.config import BACKUP_DIRNAME
from ..core.errors import InputError
from ..core.files import atomic_write_bytes, atomic_write_json
from ..core.paths import shown_path
from .folders import Folder

ANSWERS_FILENAME = ".answers.json"
Piece = tuple[str, str, int, int]  # tracking run, video, first frame, last frame
Pieces = frozenset[Piece]
Pair = tuple[Pieces, Pieces]


@dataclass(frozen=True)
class Measured:
    """What an answered pair looked like to the plan that asked: its similarity and its two cameras."""

    similarity: float
    cameras: tuple[str, str]


def piece_keys(folder: Folder) -> Pieces:
    """What ``folder`` holds, by its tracks' runs, videos and frame spans (a split part's own span)."""
    return frozenset((a.run_id, a.video, a.segments[0][0], a.segments[-1][1]) for a in folder.appearances)


@dataclass
class Answers:
    apart: list[Pair] = field(default_factory=list)
    whole: list[Pieces] = field(default_factory=list)
    refused_groups: list[list[Pieces]] = field(default_factory=list)
    together: list[Pair] = field(default_factory=list)
    measured: dict[Pair, Measured] = field(default_factory=dict)  # apart and together pairs, as answered

    def __bool__(self) -> bool:
        return bool(self.apart or self.whole or self.refused_groups or self.together)

    def add(self, first: Folder, second: Folder | Sequence[Folder], same: bool) -> None:
        """Keep the answer that ``first`` is (``same``) or is not the person of ``second`` (a folder, or
        the rest of a group: then their crops' mean is what ``first`` is compared with)."""
        rest = [second] if isinstance(second, Folder) else list(second)
        pair = (piece_keys(first), frozenset().union(*(piece_keys(f) for f in rest)))
        (self.together if same else self.apart).append(pair)
        if first.embedding is not None and all(f.embedding is not None for f in rest):
            crops = np.array([len(f.vectors) if f.vectors is not None else 1 for f in rest], dtype=np.float64)
            mean = np.average(np.stack([f.embedding for f in rest]), axis=0, weights=crops)
            self.measured[pair] = Measured(float(first.embedding @ mean), (first.camera, rest[0].camera))

    def cannot_link(self, folders: Sequence[Folder]) -> set[tuple[int, int]]:
        """Pairs (i, j), i < j, of ``folders`` the answers keep apart.

        >>> from .grouping import Appearance
        >>> def folder(name, first):
        ...     return Folder(name, Path(name), [], [Appearance("r", "v.mp4", ((first, first + 9),))])
        >>> a, b, c = folder("id_1", 0), folder("id_2", 20), folder("id_3", 40)
        >>> Answers(apart=[(piece_keys(a), piece_keys(c))]).cannot_link([c, b, a])
        {(0, 2)}
        """
        keys = [piece_keys(f) for f in folders]
        pairs = set()
        for first, second in self.apart:
            holding_first = [i for i, k in enumerate(keys) if k & first]
            holding_second = [j for j, k in enumerate(keys) if k & second]
            pairs.update((min(i, j), max(i, j)) for i in holding_first for j in holding_second if i != j)
        return pairs

    def keeps_whole(self, folder: Folder) -> bool:
        """Whether the person refused to split what ``folder`` holds."""
        keys = piece_keys(folder)
        return bool(keys) and any(keys <= whole for whole in self.whole)

    def refuses(self, group: Iterable[Folder]) -> bool:
        """Whether ``group`` holds every member of a group the person refused as a whole."""
        keys = [piece_keys(f) for f in group]
        return any(all(any(k & member for k in keys) for member in refused) for refused in self.refused_groups)

    def describe(self) -> str:
        parts = []
        if self.apart:
            parts.append(f"{len(self.apart)} pair{'' if len(self.apart) == 1 else 's'} kept apart")
        if self.whole:
            parts.append(f"{len(self.whole)} folder{'' if len(self.whole) == 1 else 's'} kept whole")
        if self.refused_groups:
            count = len(self.refused_groups)
            parts.append(f"{count} group{'' if count == 1 else 's'} not proposed again")
        if self.together:
            parts.append(f"{len(self.together)} pair{'' if len(self.together) == 1 else 's'} said to be one person")
        return ", ".join(parts)


def answers_path(persons_dir: Path) -> Path:
    return Path(persons_dir) / ANSWERS_FILENAME


def load_answers(persons_dir: Path) -> Answers:
    """The answers kept in ``persons_dir`` (none yet: empty). ``InputError`` when the file is unreadable."""
    path = answers_path(persons_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Answers()
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{shown_path(path)} (your earlier answers) cannot be read ({exc}); "
            "move it away, or clear it with --forget-answers"
        ) from exc
    try:
        answers = Answers(
            whole=[_pieces(w["pieces"]) for w in data.get("whole", [])],
            refused_groups=[[_pieces(m) for m in g["members"]] for g in data.get("refused_groups", [])],
        )
        for kind, pairs in (("apart", answers.apart), ("together", answers.together)):
            for entry in data.get(kind, []):
                pair = (_pieces(entry["first"]), _pieces(entry["second"]))
                pairs.append(pair)
                if "similarity" in entry:
                    cameras = tuple(str(c) for c in entry["cameras"])
                    answers.measured[pair] = Measured(float(entry["similarity"]), (cameras[0], cameras[1]))
        return answers
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"{shown_path(path)} (your earlier answers) is not in the expected form ({exc!r}); "
            "move it away, or clear it with --forget-answers"
        ) from exc


def keep_answers(persons_dir: Path, new: Answers) -> None:
    """Add ``new`` to the answers kept in ``persons_dir`` (one atomic write)."""
    if not new:
        return
    path = answers_path(persons_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {"schema": 1}
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for kind, pairs in (("apart", new.apart), ("together", new.together)):
        data.setdefault(kind, []).extend(_pair_entry(pair, new.measured.get(pair), stamp) for pair in pairs)
    data.setdefault("whole", []).extend({"pieces": _listed(w), "answered": stamp} for w in new.whole)
    data.setdefault("refused_groups", []).extend(
        {"members": [_listed(m) for m in g], "answered": stamp} for g in new.refused_groups
    )
    atomic_write_json(path, data)


def forget_answers(persons_dir: Path) -> Path | None:
    """Move the kept answers into the backup folder (``backup_before_merge/answers-<time>.json``);
    the copy's path, or None when there were none."""
    path = answers_path(persons_dir)
    if not path.exists():
        return None
    backup_dir = Path(persons_dir) / BACKUP_DIRNAME
    backup_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    copy = backup_dir / f"answers-{stamp}.json"
    atomic_write_bytes(copy, path.read_bytes())  # durable before the original goes
    path.unlink()
    return copy


def _pair_entry(pair: Pair, measured: Measured | None, stamp: str) -> dict:
    entry: dict = {"first": _listed(pair[0]), "second": _listed(pair[1]), "answered": stamp}
    if measured is not None:
        entry.update(similarity=round(measured.similarity, 6), cameras=list(measured.cameras))
    return entry


def _listed(pieces: Pieces) -> list[list]:
    return [list(p) for p in sorted(pieces)]


def _pieces(listed: list) -> Pieces:
    return frozenset((str(run), str(video), int(first), int(last)) for run, video, first, last in listed)
