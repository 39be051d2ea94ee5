"""What the matching stage tells the user while it works: the ``processing`` section (the
current operation and its progress) and the ``reid`` section (the merge's statistics) of
``status.json``, its error log, and a progress bar per operation."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..core.config import DEFAULT_PERSONS
from ..core.paths import absolute
from ..core.status import ErrorLog, SectionReporter, StatusFile, new_run_id, utc_now_iso

log = logging.getLogger(__name__)

WAITING = "waiting for confirmation"


class Step:
    """One operation with a known amount of work: a progress bar and the status's progress fields."""

    def __init__(self, status: MatchingStatus, name: str, total: int, unit: str) -> None:
        self.status = status
        self.total = total
        self._started = time.monotonic()
        self._bar = tqdm(total=total, unit=unit, desc=name, disable=status.bar_disabled)
        status.processing.update(
            force=True, operation=name, done=0, total=total, percent=0.0, eta_s=None, current_folder=None
        )

    def update(self, done: int, current: str = "") -> None:
        self._bar.update(done - self._bar.n)
        elapsed = time.monotonic() - self._started
        eta = round(elapsed / done * (self.total - done), 1) if done and self.total else None
        percent = round(100.0 * done / self.total, 1) if self.total else 100.0
        self.status.processing.update(done=done, total=self.total, percent=percent, current_folder=current, eta_s=eta)

    def close(self) -> None:
        self._bar.close()


class MatchingStatus:
    """The matching stage's two status sections and its error log."""

    def __init__(
        self, status: StatusFile, interval: float, show_progress: bool | None = None, persons_dir: Path | None = None
    ) -> None:
        self.status = status
        self.processing = SectionReporter(status, "processing", interval)
        self.reid = SectionReporter(status, "reid", interval)
        self.errors = ErrorLog()
        # what both sections describe: this run, on this persons folder (the monitor shows a section
        # only with the folder it names)
        self.run_id = new_run_id()
        self.persons_dir = str(absolute(persons_dir if persons_dir is not None else DEFAULT_PERSONS))
        # None lets tqdm decide (bars on a terminal only)
        self.bar_disabled = None if show_progress is None else not show_progress

    def error(self, path: str, message: str) -> None:
        log.warning("%s", message)
        self.errors.add(path, message)

    @contextlib.contextmanager
    def step(self, name: str, total: int, unit: str = "img") -> Iterator[Step]:
        step = Step(self, name, total, unit)
        try:
            yield step
        finally:
            step.close()

    @contextlib.contextmanager
    def phased(self, units: dict[str, str]) -> Iterator[Callable[[str, int, int, str], None]]:
        """A progress callback ``(operation, done, total, item)`` for work in phases (backing up,
        then merging): each new operation gets its own bar and status operation."""
        current: dict[str, Step] = {}

        def advance(operation: str, done: int, total: int, item: str) -> None:
            if operation not in current:
                for step in current.values():
                    step.close()
                current.clear()
                current[operation] = Step(self, operation, total, units.get(operation, "file"))
            current[operation].update(done, item)

        try:
            yield advance
        finally:
            for step in current.values():
                step.close()

    @contextlib.contextmanager
    def waiting_for_answer(self, groups: int) -> Iterator[None]:
        """While a person reads the plan, however long: a state of its own, kept fresh."""
        self.processing.update(
            force=True, operation=WAITING, done=0, total=groups, percent=0.0, current_folder=None, eta_s=None
        )
        with self.processing.heartbeat(), self.reid.heartbeat():
            yield

    @property
    def whose(self) -> dict[str, str]:
        """The fields that tie a section to this run and its persons folder."""
        return {"run_id": self.run_id, "persons_dir": self.persons_dir}

    def start(self, **reid_fields: Any) -> None:
        self.processing.start(
            **self.whose,
            operation="starting",
            done=0,
            total=0,
            percent=0.0,
            current_folder=None,
            eta_s=None,
            backbone=reid_fields.get("backbone"),
        )
        self.reid.start(**self.whose, **reid_fields, errors=self.errors.entries)

    def finish(self, **reid_fields: Any) -> None:
        self.processing.finish("done", current_folder=None, eta_s=0)
        self.reid.finish("done", errors=self.errors.entries, **reid_fields)

    def start_undo(self) -> None:
        self.processing.start(
            **self.whose,
            operation="undoing the last merge",
            done=0,
            total=0,
            percent=0.0,
            current_folder=None,
            eta_s=None,
        )

    def undone(self, backup: str) -> None:
        """The merge section says its merge was undone; if it describes another folder's merge, it is
        replaced by one about this folder (a section never mixes two folders)."""
        fields = {"undone": backup, "undone_at": utc_now_iso(), "undo_run_id": self.run_id}
        if self.status.read()["reid"].get("persons_dir") == self.persons_dir:
            self.reid.update(force=True, **fields)
        else:
            self.status.update_section("reid", {"state": "done", **self.whose, **fields}, replace=True)

    def stopped(self, exc: BaseException) -> None:
        """The run ended early: ``interrupted`` for Ctrl-C, else ``failed`` with the reason."""
        state, reason = ("interrupted", "interrupted") if isinstance(exc, KeyboardInterrupt) else ("failed", str(exc))
        self.processing.finish(state, error=reason)
        self.reid.finish(state, error=reason, errors=self.errors.entries)
