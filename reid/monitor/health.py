"""What the health monitor concludes from ``status.json``: pure functions, no web framework.

The verdict follows the health-check conventions of Kubernetes probes and the IETF
health+json draft: ``status`` is ``pass``, ``warn`` (healthy, with a note) or ``fail``,
and a ``fail`` is answered with HTTP 503 and an ``output`` saying why.

A stage is unhealthy when it ``failed``, or when it is ``running`` but has not written
its section for longer than ``stall_after_s`` (its process hung or was killed). A stage
that was ``interrupted`` (Ctrl-C) is a warning, not a failure. A missing status file means
nothing has run yet: idle, healthy.

A tracking run that processed no video, because every video failed or was skipped after one
failed, is ``failed`` whatever its section's state says; one where some videos failed and
others were done is a warning. Only the sections about the served persons folder are judged
(``scope.py``): the callers pass their names as ``owned``.

The persons folder is a component of its own (``assess_persons``); ``/health`` takes in the
verdicts of every component, so it is never healthier than any endpoint that shows a part.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.paths import shown_path
from ..core.persons_dir import not_a_folder
from ..core.status import MAX_ERRORS, SECTIONS

# Stages whose progress /health/processing shows, with the operation each one performs
# when its section does not name one.
PROGRESS_STAGES = {"counting": "tracking", "processing": "merging"}


@dataclass
class Verdict:
    status: str = "pass"  # pass, warn, fail
    problems: list[str] = field(default_factory=list)  # reasons for "fail"
    notes: list[str] = field(default_factory=list)  # reasons for "warn"

    @property
    def http_status(self) -> int:
        return 503 if self.status == "fail" else 200

    def fail(self, reason: str) -> None:
        self.status = "fail"
        self.problems.append(reason)

    def warn(self, note: str) -> None:
        if self.status == "pass":
            self.status = "warn"
        self.notes.append(note)

    def include(self, other: Verdict) -> None:
        """Take in another component's verdict: the whole is never healthier than a part."""
        for problem in other.problems:
            self.fail(problem)
        for note in other.notes:
            self.warn(note)

    def output(self) -> str | None:
        text = "; ".join(self.problems or self.notes)
        return text or None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def number(value: Any) -> int | float | None:
    """A JSON number as it is; None for strings, booleans, null and the rest (wrong types in a
    hand-edited or foreign status file must not break an answer)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN
        return None
    return value


def age_seconds(section: dict[str, Any], now: datetime) -> float | None:
    updated = parse_time(section.get("updated_at"))
    return None if updated is None else round(max(0.0, (now - updated).total_seconds()), 3)


def last_update(doc: dict[str, Any], owned: Collection[str] = SECTIONS) -> datetime | None:
    times = [t for t in (parse_time(doc[name].get("updated_at")) for name in owned) if t is not None]
    return max(times, default=None)


def is_stalled(section: dict[str, Any], now: datetime, stall_after_s: float) -> bool:
    if section.get("state") != "running":
        return False
    age = age_seconds(section, now)
    return age is None or age > stall_after_s


def video_counts(section: dict[str, Any]) -> dict[str, int] | None:
    """How many of a tracking run's videos are done, failed and skipped; None when it lists none."""
    videos = section.get("videos")
    if not isinstance(videos, list):
        return None
    states = [v.get("state") for v in videos if isinstance(v, dict)]
    return {state: states.count(state) for state in ("done", "failed", "skipped")} if states else None


def nothing_processed(name: str, section: dict[str, Any]) -> str | None:
    """Why a finished tracking run counts as failed: no video was processed and at least one failed
    (the others skipped, e.g. as copies of it); None when that is not so."""
    counts = video_counts(section) if name == "counting" else None
    if section.get("state") not in ("done", "failed") or not counts or counts["done"] or not counts["failed"]:
        return None
    skipped = f", {counts['skipped']} skipped" if counts["skipped"] else ""
    return f"no video was processed ({counts['failed']} failed{skipped})"


def stage_state(name: str, section: dict[str, Any]) -> str:
    """The state the monitor reports: the section's, except a run that processed nothing is failed."""
    return "failed" if nothing_processed(name, section) else section.get("state", "idle")


def assess(doc: dict[str, Any], now: datetime, stall_after_s: float, owned: Collection[str] = SECTIONS) -> Verdict:
    """The verdict on a parsed status document (see ``status.parse_status``), from the ``owned``
    sections only (those about the served persons folder)."""
    verdict = Verdict()
    for name in (n for n in SECTIONS if n in owned):
        section = doc[name]
        state = stage_state(name, section)
        if state == "failed":
            error = section.get("error")
            # how many videos failed, then the run's own words where they say more (which camera was given up on)
            reasons = [nothing_processed(name, section), error if isinstance(error, str) else None]
            if reasons[0] and reasons[1] and reasons[1].startswith("no video"):
                reasons[1] = None  # the run's generic words for the same thing
            reason = ": ".join(r for r in reasons if r)
            verdict.fail(f"{name} failed" + (f": {reason}" if reason else ""))
        elif state == "interrupted":
            when = section.get("finished_at")
            verdict.warn(f"{name} was interrupted" + (f" at {when}" if isinstance(when, str) else ""))
        elif is_stalled(section, now, stall_after_s):
            age = age_seconds(section, now)
            since = f"for {age:.0f} s" if age is not None else "at all"
            verdict.fail(f"{name} is running but has not updated {since} (stalled, or its process died)")
        counts = video_counts(section) if name == "counting" and state == "done" else None
        if counts and counts["failed"]:
            verdict.warn(f"{name}: {counts['failed']} of {sum(counts.values())} videos failed")
    return verdict


def has_run(doc: dict[str, Any] | None, owned: Collection[str] = SECTIONS) -> bool:
    """Whether ``status.json`` shows that a stage has run on the served folder (each makes sure
    the persons folder exists before it writes its section)."""
    return doc is not None and any(doc[name].get("state", "idle") != "idle" for name in owned)


def assess_persons(
    persons_dir: Path, problem: OSError | None, doc: dict[str, Any] | None, owned: Collection[str] = SECTIONS
) -> Verdict:
    """The persons folder's verdict, from the error its listing raised (None: it was listed).
    Missing before anything has run on it is normal (the monitor may start first); missing after a
    stage has run on it means it was deleted. A file where the folder should be is always a fault."""
    verdict = Verdict()
    shown = shown_path(persons_dir)
    if isinstance(problem, NotADirectoryError):
        verdict.fail(not_a_folder(persons_dir))
    elif isinstance(problem, FileNotFoundError) and not has_run(doc, owned):
        verdict.warn(f"persons folder {shown} does not exist yet (nothing has run on it)")
    elif isinstance(problem, FileNotFoundError):
        verdict.fail(
            f"persons folder {shown} does not exist, though status.json shows a stage has run on it (deleted?)"
        )
    elif problem is not None:
        verdict.fail(f"cannot read persons folder {shown}: {problem.strerror or problem}")
    return verdict


def stage_progress(name: str, section: dict[str, Any], now: datetime, stall_after_s: float) -> dict[str, Any]:
    """One stage's progress in the shape /health/processing answers, whatever the stage. An idle
    stage has no operation; a failed one says why in ``error``."""
    if name == "counting":
        done, total, current = section.get("frames_done"), section.get("frames_total"), section.get("current_video")
    else:
        done, total, current = section.get("done"), section.get("total"), section.get("current_folder")
    done, total = number(done), number(total)
    percent = number(section.get("percent"))
    if percent is None and done is not None and total:
        percent = round(100.0 * done / total, 1)
    state = stage_state(name, section)
    operation = section.get("operation") if isinstance(section.get("operation"), str) else PROGRESS_STAGES[name]
    error = section.get("error") if isinstance(section.get("error"), str) else None
    view = {
        "state": state,
        "operation": None if state == "idle" else operation,
        "done": done,
        "total": total,
        "percent": percent,
        "eta_s": number(section.get("eta_s")),
        "current": shown_path(current) if isinstance(current, str) else None,
        "started_at": section.get("started_at") if isinstance(section.get("started_at"), str) else None,
        "updated_at": section.get("updated_at"),
        "age_s": age_seconds(section, now),
        "stalled": is_stalled(section, now, stall_after_s),
        "error": (nothing_processed(name, section) or error) if state == "failed" else None,
    }
    if name == "counting":
        counts = video_counts(section) or {}
        view.update(
            fps=number(section.get("fps")),
            persons=number(section.get("persons")),
            videos_done=number(section.get("videos_done")),
            videos_total=number(section.get("videos_total")),
            videos_failed=counts.get("failed", 0),
            videos_skipped=counts.get("skipped", 0),
        )
    return view


def error_log(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The section's error entries that have the expected shape, newest last, bounded."""
    errors = section.get("errors")
    if not isinstance(errors, list):
        return []
    return [e for e in errors if isinstance(e, dict)][-MAX_ERRORS:]
