"""The monitor's ``/metrics``: Prometheus text built from the files at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ..core.errors import StatusError
from ..core.persons import folder_summary, list_person_folders
from ..core.status import SECTIONS, STATES, StatusFile
from .health import Verdict, age_seconds, assess, error_log, number, stage_progress

# text format 0.0.4: our names are plain ASCII, and every Prometheus version parses it
PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def prometheus_text(status_file: Path, persons_dir: Path, stall_after_s: float) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(status_file, persons_dir, stall_after_s))
    return generate_latest(registry)


class _StatusCollector:
    """Builds the metrics from the files at scrape time."""

    def __init__(self, status_file: Path, persons_dir: Path, stall_after_s: float) -> None:
        self.status_file = status_file
        self.persons_dir = persons_dir
        self.stall_after_s = stall_after_s

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.now(UTC)
        readable = GaugeMetricFamily("reid_status_readable", "1 when status.json could be read and parsed")
        healthy = GaugeMetricFamily("reid_healthy", "1 when /health answers 200")
        try:
            doc = StatusFile(self.status_file).read()
            verdict = assess(doc, now, self.stall_after_s)
        except StatusError:
            doc, verdict = None, Verdict(status="fail")
        readable.add_metric([], 1.0 if doc else 0.0)
        healthy.add_metric([], 0.0 if verdict.status == "fail" else 1.0)
        yield readable
        yield healthy

        folders = list_person_folders(self.persons_dir)
        summaries = [folder_summary(f) for f in folders]
        yield _gauge("reid_persons", "person folders in the persons folder", len(folders))
        yield _gauge("reid_person_images", "images in all person folders", sum(s["images"] for s in summaries))
        yield _gauge("reid_person_bytes", "bytes of images in all person folders", sum(s["bytes"] for s in summaries))
        if doc is None:
            return
        state = GaugeMetricFamily(
            "reid_stage_state", "1 for the current state of each stage", labels=["stage", "state"]
        )
        progress = GaugeMetricFamily("reid_stage_progress_ratio", "done / total of each stage", labels=["stage"])
        errors = GaugeMetricFamily("reid_stage_errors", "entries in each stage's error log", labels=["stage"])
        age = GaugeMetricFamily(
            "reid_stage_update_age_seconds", "seconds since each stage last wrote its status", labels=["stage"]
        )
        for name in SECTIONS:
            section = doc[name]
            for candidate in STATES:
                state.add_metric([name, candidate], 1.0 if section.get("state") == candidate else 0.0)
            errors.add_metric([name], float(len(error_log(section))))
            section_age = age_seconds(section, now)
            if section_age is not None:
                age.add_metric([name], section_age)
        for name in ("counting", "processing"):
            view = stage_progress(name, doc[name], now, self.stall_after_s)
            if view["percent"] is not None:
                progress.add_metric([name], view["percent"] / 100.0)
        persons_counted = number(doc["counting"].get("persons"))
        yield state
        yield progress
        yield errors
        yield age
        if persons_counted is not None:
            yield _gauge("reid_tracking_persons", "persons found by the last tracking run", persons_counted)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], float(value))
    return gauge
