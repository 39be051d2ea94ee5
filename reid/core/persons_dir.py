"""The persons folder as every stage checks it: one message per mistake, whichever script finds it.

Tracking creates the folder, the merge and its undo need it to exist, the monitor may start before
it exists; all of them refuse a ``--persons`` that names a file, with the same words.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .paths import shown_path
from .persons import prepare_persons_dir


def not_a_folder(persons_dir: Path) -> str:
    return f"persons folder {shown_path(persons_dir)} exists and is not a folder: give --persons a folder"


def missing(persons_dir: Path) -> str:
    return f"persons folder {shown_path(persons_dir)} does not exist: run obj_counting.py first"


def is_not_a_folder(persons_dir: Path) -> bool:
    """Something other than a folder is there (a file, a link to one, a device)."""
    path = Path(persons_dir)
    return path.exists() and not path.is_dir()


def check_not_a_file(persons_dir: Path) -> None:
    """``InputError`` when ``persons_dir`` names something that is not a folder (missing is fine:
    tracking creates it, the monitor waits for it)."""
    if is_not_a_folder(persons_dir):
        raise InputError(not_a_folder(persons_dir))


def require_persons_dir(persons_dir: Path) -> None:
    """``InputError`` unless ``persons_dir`` is an existing folder (the merge and the undo need one)."""
    check_not_a_file(persons_dir)
    if not Path(persons_dir).is_dir():
        raise InputError(missing(persons_dir))


def prepare_persons_folder(persons_dir: Path) -> None:
    """Tracking's check: refuse a file with the same words as the other scripts, then create the
    folder and prove it is writable (``persons.prepare_persons_dir``)."""
    check_not_a_file(persons_dir)
    prepare_persons_dir(persons_dir)
