"""Tracks in the MOTChallenge text format, which every multi-object-tracking tool reads.

One line per tracked box: ``frame,id,x,y,w,h,conf,-1,-1,-1``. Frames are numbered from 1
(MOTChallenge's convention; our crop names and ``track.json`` count from 0, so MOT frame
k is our frame k - 1), ``x,y`` is the top-left corner and ``w,h`` the size in pixels, and
``id`` is the person folder number (``id_7`` -> 7). Every box of every counted track is
written, not only the saved crops; tracks that became no person (too short, never a
confident box) are left out, as they are not counted.

    python -m reid.tracking.mot --persons persons --mot mot/ --output mot_merged/

rewrites the files with the identities as they are after merges (a merged folder's tracks
take its number), so the final count can be scored against ground truth.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.cli import ArgumentParser, add_logging_flags, run_reporting_errors, setup_logging
from ..core.errors import InputError, OutputError
from ..core.files import atomic_write_bytes, write_new_file
from ..core.persons import list_person_folders, parse_person_id
from ..core.track_metadata import read_track_metadata, track_person_ids

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MotRow:
    frame: int  # from 1
    id: int
    x: float
    y: float
    w: float
    h: float
    conf: float = 1.0

    def line(self) -> str:
        return f"{self.frame},{self.id},{self.x:.2f},{self.y:.2f},{self.w:.2f},{self.h:.2f},{self.conf:.4f},-1,-1,-1"


def parse_mot(lines: Iterable[str], source: str = "MOT file") -> list[MotRow]:
    """Rows of a MOTChallenge file (ground truth or results); ``InputError`` naming a bad line."""
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.strip().split(",")
        try:
            frame, identity = int(float(fields[0])), int(float(fields[1]))
            x, y, w, h = (float(v) for v in fields[2:6])
            conf = float(fields[6]) if len(fields) > 6 else 1.0
        except (ValueError, IndexError):
            raise InputError(f"{source}, line {number}: not frame,id,x,y,w,h,...: {line.strip()[:60]!r}") from None
        rows.append(MotRow(frame, identity, x, y, w, h, conf))
    return rows


def read_mot(path: Path) -> list[MotRow]:
    try:
        return parse_mot(Path(path).read_text(encoding="utf-8").splitlines(), str(path))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def write_mot(path: Path, rows: Sequence[MotRow]) -> None:
    ordered = sorted(rows, key=lambda r: (r.frame, r.id))
    atomic_write_bytes(Path(path), "".join(r.line() + "\n" for r in ordered).encode(), durable=False)


def mot_names(video: Path) -> Iterator[str]:
    """``<stem>.txt``, then ``<stem>_2.txt`` and so on: the names a video's MOT file may take."""
    yield f"{video.stem}.txt"
    for n in itertools.count(2):
        yield f"{video.stem}_{n}.txt"


def write_new_mot(folder: Path, video: Path, rows: Sequence[MotRow]) -> Path:
    """The rows as a new MOT file under the first free name of ``mot_names``; returns its path.
    The name is taken by an exclusive create, so two runs never overwrite each other's file."""
    ordered = sorted(rows, key=lambda r: (r.frame, r.id))
    return write_new_file(folder, mot_names(video), "".join(r.line() + "\n" for r in ordered).encode())


class NoMotFile:
    """The MOT writer of a run without ``--save-mot``."""

    def add(self, index: int, track_id: int, box: Sequence[float], conf: float) -> None:
        pass

    def finish(self, person_ids: dict[int, int]) -> Path | None:
        return None


class MotFile:
    """One video's MOT file: boxes are appended (by tracker id) while tracking, then written
    out with person ids once it is known which tracks became persons. Never overwrites a file."""

    def __init__(self, folder: Path, video: Path) -> None:
        self.folder = Path(folder)
        self.video = Path(video)
        self._partial = self.folder / f".{self.video.stem}.{os.getpid()}-{secrets.token_hex(3)}.mot.partial"
        try:
            self._handle = open(self._partial, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole video
        except OSError as exc:
            raise OutputError(f"cannot write in {self.folder}: {exc.strerror or exc}") from None

    def add(self, index: int, track_id: int, box: Sequence[float], conf: float) -> None:
        x1, y1, x2, y2 = box
        self._handle.write(MotRow(index + 1, track_id, x1, y1, x2 - x1, y2 - y1, conf).line() + "\n")

    def finish(self, person_ids: dict[int, int]) -> Path | None:
        """Write the file with ``person_ids`` (tracker id -> person id); tracks without one are left out."""
        self._handle.close()
        try:
            rows = [
                MotRow(r.frame, person_ids[r.id], r.x, r.y, r.w, r.h, r.conf)
                for r in read_mot(self._partial)
                if r.id in person_ids
            ]
            return write_new_mot(self.folder, self.video, rows)
        finally:
            with contextlib.suppress(OSError):
                self._partial.unlink()


def mot_file_for(folder: Path | None, video: Path) -> NoMotFile | MotFile:
    return NoMotFile() if folder is None else MotFile(folder, video)


def current_identities(persons_dir: Path) -> dict[int, int]:
    """The folder each tracked person id is in now: after a merge, a merged folder's tracks
    (listed in its ``track.json``) take the surviving folder's number."""
    mapping = {}
    for folder in list_person_folders(persons_dir):
        survivor = parse_person_id(folder.name)
        if survivor is None:
            continue
        for person_id in track_person_ids(read_track_metadata(folder)):
            mapping[person_id] = survivor
    return mapping


def relabel(rows: Sequence[MotRow], mapping: dict[int, int]) -> list[MotRow]:
    """Rows with their ids mapped (ids not in ``mapping`` kept as they are).

    >>> relabel([MotRow(1, 7, 0, 0, 1, 1)], {7: 2})[0].id
    2
    """
    return [MotRow(r.frame, mapping.get(r.id, r.id), r.x, r.y, r.w, r.h, r.conf) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m reid.tracking.mot",
        description="Rewrite MOT files (--save-mot) with the "
        "identities of the persons folder as they are now, after merges.",
    )
    parser.add_argument(
        "--persons", type=Path, default=Path("persons"), metavar="DIR", help="the persons folder (default: %(default)s)"
    )
    parser.add_argument("--mot", type=Path, required=True, metavar="DIR", help="the MOT files written by --save-mot")
    parser.add_argument("--output", type=Path, required=True, metavar="DIR", help="where the rewritten files go")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)

    def run() -> int:
        files = sorted(args.mot.glob("*.txt")) if args.mot.is_dir() else []
        if not files:
            raise InputError(f"no MOT files (*.txt) in {args.mot}")
        args.output.mkdir(parents=True, exist_ok=True)
        mapping = current_identities(args.persons)
        for path in files:
            write_mot(args.output / path.name, relabel(read_mot(path), mapping))
        print(f"{len(files)} MOT files rewritten into {args.output}/ with the identities of {args.persons}/")
        return 0

    return run_reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
