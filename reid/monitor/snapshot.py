"""What one request of the monitor sees: ``status.json`` read once, its sections sorted into those
about the served persons folder and those about another (``scope.py``), the verdict on them, and
the persons folder listed. No web framework: the endpoints and ``/metrics`` build on it alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import StatusError
from ..core.persons import list_person_folders
from ..core.persons_dir import is_not_a_folder
from ..core.status import SECTIONS, StatusFile
from .health import Verdict, age_seconds, assess, assess_persons, error_log, last_update, stage_progress, stage_state
from .scope import Scope, scope_of, whose

ELSEWHERE = "elsewhere"  # the state /health gives a section about another persons folder


@dataclass
class Snapshot:
    status_file: Path
    persons_dir: Path
    now: datetime
    stall_after_s: float
    doc: dict[str, Any] | None  # None: status.json could not be read (``verdict`` says why)
    scope: Scope | None
    verdict: Verdict  # on status.json and the stages of the served folder

    @classmethod
    def take(cls, status_file: Path, persons_dir: Path, stall_after_s: float) -> Snapshot:
        now = datetime.now(UTC)
        try:
            doc = StatusFile(status_file).read()
        except StatusError as exc:
            verdict = Verdict()
            verdict.fail(str(exc))
            return cls(Path(status_file), Path(persons_dir), now, stall_after_s, None, None, verdict)
        scope = scope_of(doc, persons_dir, status_file)
        verdict = assess(doc, now, stall_after_s, scope.owned)
        return cls(Path(status_file), Path(persons_dir), now, stall_after_s, doc, scope, verdict)

    @property
    def owned(self) -> tuple[str, ...]:
        return self.scope.owned if self.scope else ()

    def persons(self) -> tuple[list[Path], Verdict]:
        """The person folders and the persons folder's verdict (one rule for every endpoint)."""
        try:
            if is_not_a_folder(self.persons_dir):  # the listing would call that "missing"
                raise NotADirectoryError(str(self.persons_dir))
            return list_person_folders(self.persons_dir, missing_ok=False), Verdict()
        except OSError as exc:
            return [], assess_persons(self.persons_dir, exc, self.doc, self.owned)

    def last_update(self) -> datetime | None:
        return last_update(self.doc, self.owned) if self.doc else None

    def states(self) -> dict[str, str] | None:
        """Each stage's state as it concerns the served folder (``elsewhere`` for another folder's)."""
        if self.doc is None:
            return None
        return {name: stage_state(name, self.doc[name]) if name in self.owned else ELSEWHERE for name in SECTIONS}

    def whose(self, name: str) -> dict[str, Any]:
        assert self.doc is not None and self.scope is not None
        return whose(self.doc[name], self.scope, name, self.status_file)

    def progress(self, name: str) -> dict[str, Any] | None:
        """The progress view of ``counting`` or ``processing``: in full for the served folder; for
        another folder only which folder and run it describes, and its state."""
        if self.doc is None:
            return None
        section = self.doc[name]
        if name not in self.owned:
            return {**self.whose(name), "state": section.get("state"), "updated_at": section.get("updated_at")}
        return {**stage_progress(name, section, self.now, self.stall_after_s), **self.whose(name)}

    def merge_statistics(self) -> dict[str, Any] | None:
        """The ``reid`` section without its error log, as /health/reid answers it (another folder's:
        only whose it is and its state)."""
        if self.doc is None:
            return None
        section = self.doc["reid"]
        if "reid" not in self.owned:
            return {**self.whose("reid"), "state": section.get("state"), "updated_at": section.get("updated_at")}
        view = {k: v for k, v in section.items() if k != "errors"}
        return {**view, **self.whose("reid"), "age_s": age_seconds(section, self.now)}

    def errors(self, name: str) -> list[dict[str, Any]]:
        """A section's error log; none from a section about another folder."""
        return error_log(self.doc[name]) if self.doc and name in self.owned else []
