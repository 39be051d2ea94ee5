"""Who may change a persons folder: tracking runs share it, a merge or an undo holds it alone.

Tracking adds crops to folders it is still filling; a merge moves crops between folders and
removes the emptied ones. Run at once on one persons folder they corrupt each other, so each
holds a *lease* for its whole run: an ``flock`` on ``persons/.lease``, shared for tracking
(several tracking runs can safely add folders side by side) and exclusive for a merge or an
undo. The kernel drops the lock when its process ends, however it ends, so a killed run never
blocks anyone.

Each holder also leaves a note, ``persons/.lease.<pid>-<token>.json`` (program, action, pid,
start time), so that a refusal can say who holds the folder. Notes only describe; the lock
decides. A note whose process is gone is ignored and removed by the next exclusive holder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OutputError, ReidError
from .files import atomic_write_json
from .status import utc_now_iso

log = logging.getLogger(__name__)

LEASE_FILENAME = ".lease"
NOTE_PREFIX = ".lease."
NOTE_SUFFIX = ".json"
# A refusal is only reported after the lock stayed taken this long (BUSY_ATTEMPTS x BUSY_RETRY_S).
BUSY_ATTEMPTS = 10
BUSY_RETRY_S = 0.05


@dataclass(frozen=True)
class Holder:
    """A process holding a persons folder's lease, as its note describes it."""

    program: str
    action: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"{self.program} ({self.action}, pid {self.pid}, since {self.since})"


class PersonsBusyError(ReidError):
    """The persons folder is held by another run."""

    def __init__(self, message: str, holders: list[Holder]) -> None:
        super().__init__(message)
        self.holders = holders


def _program_name() -> str:
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def holders(persons_dir: Path, *, exclude: Path | None = None) -> list[Holder]:
    """The live holders named by the notes in ``persons_dir`` (``exclude``: one's own note)."""
    found = []
    try:
        notes = sorted(Path(persons_dir).glob(f"{NOTE_PREFIX}*{NOTE_SUFFIX}"))
    except OSError:
        return []
    for note in notes:
        if note == exclude:
            continue
        holder = _read_note(note)
        if holder is not None and _is_alive(holder.pid):
            found.append(holder)
    return found


def _read_note(note: Path) -> Holder | None:
    try:
        data: dict[str, Any] = json.loads(note.read_text(encoding="utf-8"))
        return Holder(str(data["program"]), str(data["action"]), int(data["pid"]), str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # half-written, removed meanwhile, or not ours


class Lease:
    """The lease on one persons folder, for one action ("tracking", "merging", "undoing", ...).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with Lease(folder, "tracking").shared():
    ...     Lease(folder, "merging").exclusive()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reid.core.lease.PersonsBusyError: ... is in use by ... (tracking, pid ...): wait until it has finished; ...
    """

    def __init__(self, persons_dir: Path, action: str, program: str | None = None) -> None:
        self.persons_dir = Path(persons_dir)
        self.action = action
        self.program = program or _program_name()
        self.path = self.persons_dir / LEASE_FILENAME
        self.note = self.persons_dir / f"{NOTE_PREFIX}{os.getpid()}-{secrets.token_hex(3)}{NOTE_SUFFIX}"
        self.exclusive_held = False
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def shared(self) -> Lease:
        """Take the lease alongside other shared holders; ``PersonsBusyError`` while a merge or undo holds it."""
        return self._acquire(exclusive=False)

    def exclusive(self) -> Lease:
        """Take the lease alone; ``PersonsBusyError`` while anyone else holds it."""
        return self._acquire(exclusive=True)

    def others(self) -> list[Holder]:
        """The other live holders (for a shared holder that wants to know who else is at work)."""
        return holders(self.persons_dir, exclude=self.note)

    def _acquire(self, exclusive: bool) -> Lease:
        if self.held:
            raise RuntimeError("this lease is held already")
        attempts = 0
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                attempts += 1
                if attempts >= BUSY_ATTEMPTS:
                    raise self._busy(exclusive) from None
                time.sleep(BUSY_RETRY_S)  # a holder on its way out locks the file alone for a moment
                continue
            if self._is_current(fd):
                break
            os.close(fd)  # the last holder removed the file after we opened it: lock the new one
        self._fd, self.exclusive_held = fd, exclusive
        try:
            if exclusive:
                self._remove_dead_notes()
            atomic_write_json(
                self.note,
                {"program": self.program, "action": self.action, "pid": os.getpid(), "since": utc_now_iso()},
                durable=False,
            )
        except OSError as exc:
            self.release()
            raise OutputError(
                f"cannot write in {self.persons_dir} ({exc.strerror or exc}); nothing was changed"
            ) from None
        return self

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise OutputError(f"cannot write in {self.persons_dir} ({exc.strerror}); nothing was changed") from None
            raise

    def _is_current(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)

    def _busy(self, exclusive: bool) -> PersonsBusyError:
        others = self.others()
        who = ", ".join(h.describe() for h in others) or "another process"
        if exclusive:
            advice = "wait until it has finished; nothing was changed"
        else:
            advice = "wait until it has finished (a merge or undo must not overlap tracking); nothing was changed"
        return PersonsBusyError(f"{self.persons_dir} is in use by {who}: {advice}", others)

    def _remove_dead_notes(self) -> None:
        # Holding the lease alone, every other note belongs to a process that is gone.
        for note in self.persons_dir.glob(f"{NOTE_PREFIX}*{NOTE_SUFFIX}"):
            if note != self.note:
                with contextlib.suppress(OSError):
                    note.unlink()

    def release(self) -> None:
        """Drop the note and the lock; the last holder out also removes the lease file."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.note.unlink()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # succeeds only if nobody else holds it
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        except BlockingIOError:
            pass
        finally:
            os.close(self._fd)
            self._fd, self.exclusive_held = None, False

    def __enter__(self) -> Lease:
        if not self.held:
            raise RuntimeError("take the lease first: with Lease(...).shared() or .exclusive()")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


@contextlib.contextmanager
def held_exclusively(persons_dir: Path, lease: Lease | None, action: str) -> Iterator[None]:
    """Run the block under the folder's exclusive lease: the caller's (checked), or one taken for the block."""
    if lease is not None:
        if not (lease.exclusive_held and lease.persons_dir.resolve() == Path(persons_dir).resolve()):
            raise ValueError(f"the lease passed in must be held exclusively on {persons_dir}")
        yield
        return
    with Lease(persons_dir, action).exclusive():
        yield
