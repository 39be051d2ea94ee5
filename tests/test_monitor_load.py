"""The real monitor on loopback under 16 clients x 500 requests while status.json is rewritten
as fast as another process can: every request is answered, every answer is complete and valid, and
the answers followed the file while it was being replaced. (How fast it answers is measured in the
benchmark's reliability section, not asserted here.)"""

from __future__ import annotations

import logging

import pytest

from benchmarks.reliability import check_answer, monitor_load

log = logging.getLogger(__name__)


@pytest.mark.slow
def test_sixteen_clients_times_five_hundred_requests_during_status_rewrites(tmp_path):
    result = monitor_load(tmp_path, clients=16, requests_per_client=500, rewrite=True, time_limit_s=1800)
    log.info(
        "%d requests, %.0f req/s, p50 %.1f ms, p99 %.1f ms, %d status rewrites, %d of them seen in answers",
        result.requests,
        result.requests_per_s,
        result.percentile_ms(50),
        result.percentile_ms(99),
        result.rewrites,
        result.versions_seen,
    )
    assert result.problems == []  # a request not made before the hang guard (30 min) is a problem too
    assert result.requests == 16 * 500  # every one answered
    assert result.failed == 0 and result.invalid == 0
    assert result.versions_seen >= 10  # the answers showed the file changing, over and over, during the load


def test_the_answer_check_rejects_what_it_should():
    assert check_answer("/health", 200, b'{"status": "pass"}') is None
    assert "HTTP 503" in check_answer("/health", 503, b'{"status": "fail"}')
    assert "invalid JSON" in check_answer("/health", 200, b'{"status": "pa')
    assert "unexpected body" in check_answer("/health", 200, b'{"status": "fail"}')
    assert check_answer("/metrics", 200, b"# HELP reid_persons x\nreid_persons 3.0\n") is None
    assert "invalid line" in check_answer("/metrics", 200, b"reid_persons 3.0\nreid_frames_do")
