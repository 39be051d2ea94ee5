"""The monitor's ``/metrics``: Prometheus text built from the files at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ..core.persons import folder_summary, list_person_folders
from ..core.status import SECTIONS, STATES
from .health import age_seconds, number
from .snapshot import Snapshot

# text format 0.0.4: our names are plain ASCII, and every Prometheus version parses it
PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def prometheus_text(seen: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(seen))
    return generate_latest(registry)


class _StatusCollector:
    """Builds the metrics from one snapshot of the files; the stages of another persons folder are
    counted as ``reid_stage_elsewhere`` only."""

    def __init__(self, seen: Snapshot) -> None:
        self.seen = seen

    def collect(self) -> Iterator[GaugeMetricFamily]:
        seen, doc = self.seen, self.seen.doc
        readable = GaugeMetricFamily("reid_status_readable", "1 when status.json could be read and parsed")
        healthy = GaugeMetricFamily("reid_healthy", "1 when the stages of the served persons folder are healthy")
        readable.add_metric([], 1.0 if doc else 0.0)
        healthy.add_metric([], 0.0 if seen.verdict.status == "fail" else 1.0)
        yield readable
        yield healthy

        folders = list_person_folders(seen.persons_dir)
        summaries = [folder_summary(f) for f in folders]
        yield _gauge("reid_persons", "person folders in the persons folder", len(folders))
        yield _gauge("reid_person_images", "images in all person folders", sum(s["images"] for s in summaries))
        yield _gauge("reid_person_bytes", "bytes of images in all person folders", sum(s["bytes"] for s in summaries))
        unfinished = sum(s["unfinished"] for s in summaries)
        yield _gauge("reid_persons_unfinished", "person folders a tracking run has not finished (yet)", unfinished)
        states = seen.states()
        if doc is None or states is None:
            return
        state = GaugeMetricFamily(
            "reid_stage_state", "1 for the current state of each stage", labels=["stage", "state"]
        )
        elsewhere = GaugeMetricFamily(
            "reid_stage_elsewhere", "1 when a stage's section describes another persons folder", labels=["stage"]
        )
        progress = GaugeMetricFamily("reid_stage_progress_ratio", "done / total of each stage", labels=["stage"])
        errors = GaugeMetricFamily("reid_stage_errors", "entries in each stage's error log", labels=["stage"])
        age = GaugeMetricFamily(
            "reid_stage_update_age_seconds", "seconds since each stage last wrote its status", labels=["stage"]
        )
        for name in SECTIONS:
            elsewhere.add_metric([name], 0.0 if name in seen.owned else 1.0)
            for candidate in STATES:
                state.add_metric([name, candidate], 1.0 if states[name] == candidate else 0.0)
            if name not in seen.owned:
                continue
            errors.add_metric([name], float(len(seen.errors(name))))
            section_age = age_seconds(doc[name], seen.now)
            if section_age is not None:
                age.add_metric([name], section_age)
        for name in ("counting", "processing"):
            view = seen.progress(name)
            if view is not None and name in seen.owned and view["percent"] is not None:
                progress.add_metric([name], view["percent"] / 100.0)
        persons_counted = number(doc["counting"].get("persons")) if "counting" in seen.owned else None
        yield state
        yield elsewhere
        yield progress
        yield errors
        yield age
        if persons_counted is not None:
            yield _gauge("reid_tracking_persons", "persons found by the last tracking run", persons_counted)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], float(value))
    return gauge
