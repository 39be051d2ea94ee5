"""How a tracking run ends in status.json: a run that processed nothing because what it tried
failed is a failure, whatever else was skipped (the monitor shows it red, 503)."""

from __future__ import annotations

from pathlib import Path

from reid.tracking.progress import RunResult, VideoResult
from reid.tracking.stage import _finish_status


class Reporter:
    def __init__(self) -> None:
        self.finished: dict = {}

    def finish(self, state: str, **fields) -> None:
        self.finished = {"state": state, **fields}


def finish(*states: str) -> dict:
    reporter = Reporter()
    videos = [VideoResult(video=Path(f"v{n}.mp4"), state=state) for n, state in enumerate(states)]
    _finish_status(reporter, RunResult("run", videos), [])
    return reporter.finished


def test_failed_and_skipped_with_nothing_done_is_a_failed_run():
    ended = finish("failed", "skipped")
    assert ended["state"] == "failed" and ended["error"] == "no video was processed (1 failed, 1 skipped)"
    assert finish("failed")["error"] == "no video was processed (1 failed)"


def test_a_run_with_one_video_done_is_done_and_lists_the_failed_ones():
    ended = finish("done", "failed")
    assert ended["state"] == "done" and ended["error"] is None
    assert [v["state"] for v in ended["videos"]] == ["done", "failed"]


def test_every_video_skipped_as_done_before_is_a_healthy_run():
    assert finish("skipped", "skipped")["state"] == "done"
