"""The one owner of ``status.json``: its schema, atomic writes, tolerant reads, locked updates.

The tracking script, the re-ID script and the health monitor are separate processes that
share this file. Each script owns one or more *sections* (``counting`` for tracking,
``processing`` and ``reid`` for the merge); every section carries at least::

    {"state": "idle" | "running" | "done" | "failed" | "interrupted", "updated_at": "2026-11-24T08:16:00Z", ...}

``interrupted`` is a run stopped on purpose (Ctrl-C): not healthy work, not a fault either.

Writes replace the whole file atomically (see ``fsutil.atomic_write_json``), so a reader
never sees half a file. A write of one section is a read-modify-write done under an
exclusive lock on a side file (``status.json.lock``), so two scripts writing at the same
time never drop each other's section. Readers need no lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import StatusError
from .files import atomic_write_json, locked

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STATES = ("idle", "running", "done", "failed", "interrupted")
SECTIONS = ("counting", "processing", "reid")
MAX_ERRORS = 100  # entries kept in a section's error log


def new_run_id() -> str:
    """Names one run of a stage (``20261205T141501Z-3fa2c1``): its sections and files carry it."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def utc_now_iso() -> str:
    """The current time as ISO 8601 in UTC with millisecond precision, e.g. ``2026-11-24T08:16:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ErrorLog:
    """The last ``MAX_ERRORS`` problems of a run, as a section's ``errors`` shows them.

    >>> log = ErrorLog(limit=2)
    >>> for n in range(3):
    ...     log.add(f"video{n}.mp4", "unreadable")
    >>> [e["path"] for e in log.entries]
    ['video1.mp4', 'video2.mp4']
    """

    def __init__(self, limit: int = MAX_ERRORS) -> None:
        self.limit = limit
        self.entries: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.entries.append({"time": utc_now_iso(), "path": str(path), "message": message})
        del self.entries[: -self.limit]


def idle_section() -> dict[str, Any]:
    return {"state": "idle", "updated_at": None}


def empty_status() -> dict[str, Any]:
    """What a missing status file reads as: every section idle."""
    return {"schema": SCHEMA_VERSION, **{name: idle_section() for name in SECTIONS}}


def parse_status(text: str, source: str = "status.json") -> dict[str, Any]:
    """Parse and check the document; fill sections that are absent as idle.

    Raises ``StatusError`` naming ``source`` when the text is not JSON or not of the
    expected shape. Unknown top-level keys are kept, so newer writers do not lose data
    through older ones.
    """
    if not text.strip():
        raise StatusError(f"{source} is empty (it may be in the middle of being created)")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StatusError(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise StatusError(f"{source} must hold a JSON object, found {_json_type(doc)}")
    for name in SECTIONS:
        section = doc.get(name)
        if section is None:
            doc[name] = idle_section()
            continue
        if not isinstance(section, dict):
            raise StatusError(f"{source}: section {name!r} must be an object, found {_json_type(section)}")
        state = section.get("state", "idle")
        if state not in STATES:
            raise StatusError(f"{source}: section {name!r} has state {state!r}; expected one of {', '.join(STATES)}")
        section.setdefault("state", "idle")
        updated = section.get("updated_at")
        if updated is not None and not isinstance(updated, str):
            raise StatusError(
                f"{source}: section {name!r} has updated_at of type {_json_type(updated)}; expected a string"
            )
        section.setdefault("updated_at", None)
    doc.setdefault("schema", SCHEMA_VERSION)
    return doc


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


class StatusFile:
    """Reads and updates one ``status.json``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def read(self) -> dict[str, Any]:
        """The whole document; a missing file reads as all sections idle.

        Raises ``StatusError`` for an unreadable, malformed or wrongly shaped file.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return empty_status()
        except UnicodeDecodeError:
            raise StatusError(f"{self.path} is not UTF-8 text") from None
        except OSError as exc:
            raise StatusError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        return parse_status(text, str(self.path))

    def read_section(self, name: str) -> dict[str, Any]:
        _check_section_name(name)
        return self.read()[name]

    def update_section(self, name: str, fields: Mapping[str, Any], *, replace: bool = False) -> dict[str, Any]:
        """Merge ``fields`` into section ``name`` (or replace it) and write the file atomically.

        ``updated_at`` is always set to now. Other sections are re-read under the lock and
        written back unchanged. Returns the section as written.
        """
        return self.modify(lambda doc: _apply(doc, name, fields, replace))[name]

    def modify(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Read the document under the lock, let ``change`` edit it in place, write it back."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with locked(self.lock_path):
                doc = self.read()
                change(doc)
                atomic_write_json(self.path, doc)
        except OSError as exc:
            raise StatusError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        return doc


def _check_section_name(name: str) -> None:
    if name not in SECTIONS:
        raise ValueError(f"unknown status section {name!r}; expected one of {', '.join(SECTIONS)}")


def _apply(doc: dict[str, Any], name: str, fields: Mapping[str, Any], replace: bool) -> None:
    _check_section_name(name)
    state = fields.get("state")
    if state is not None and state not in STATES:
        raise ValueError(f"state {state!r} is not one of {', '.join(STATES)}")
    section = {} if replace else dict(doc.get(name) or {})
    section.update(fields)
    section.setdefault("state", "idle")
    section["updated_at"] = utc_now_iso()
    doc[name] = section


class SectionReporter:
    """Writes one section's progress at a bounded rate.

    ``update`` collects fields and writes only when ``min_interval`` seconds have passed
    since the last write (or when forced), so a loop may call it every frame. A failing
    write during the run is logged once and does not stop the work: the status file is
    for monitoring, the results are what matter.
    """

    def __init__(
        self, status: StatusFile, section: str, min_interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        _check_section_name(section)
        self.status = status
        self.section = section
        self.min_interval = min_interval
        self._clock = clock
        self._pending: dict[str, Any] = {}
        self._last_write = float("-inf")
        self._warned = False
        self._lock = threading.Lock()  # the heartbeat thread writes too

    def start(self, **fields: Any) -> None:
        """Replace the section with a fresh ``running`` one. Errors propagate: a run that
        cannot write its status at the start should say so before doing any work."""
        now = utc_now_iso()
        self.status.update_section(
            self.section, {"state": "running", "started_at": now, "finished_at": None, **fields}, replace=True
        )
        self._pending.clear()
        self._last_write = self._clock()

    def update(self, force: bool = False, **fields: Any) -> bool:
        """Queue ``fields``; write if due. Returns whether a write happened."""
        with self._lock:
            self._pending.update(fields)
            if not force and self._clock() - self._last_write < self.min_interval:
                return False
            return self._flush()

    def due(self) -> bool:
        """Whether the next ``update`` will write (fields costly to gather may wait until then)."""
        return self._clock() - self._last_write >= self.min_interval

    def finish(self, state: str, **fields: Any) -> None:
        """Write the final state (``done``, ``failed`` or ``interrupted``) now."""
        self.update(force=True, state=state, finished_at=utc_now_iso(), **fields)

    @contextlib.contextmanager
    def heartbeat(self, interval_s: float = 5.0) -> Iterator[None]:
        """Rewrite the section every ``interval_s`` while the block runs (e.g. while waiting for a
        person's answer), so the monitor sees a process that is alive, not a stalled one; if the
        process dies, the beats stop and the stall is noticed as usual."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(interval_s):
                self.update(force=True)

        thread = threading.Thread(target=beat, name=f"{self.section}-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _flush(self) -> bool:
        fields, self._pending = self._pending, {}
        self._last_write = self._clock()
        try:
            self.status.update_section(self.section, fields)
        except StatusError as exc:
            if not self._warned:
                log.warning("status not updated: %s", exc)
                self._warned = True
            return False
        return True
