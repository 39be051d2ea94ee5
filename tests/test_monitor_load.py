"""The real monitor on loopback under 16 clients x 500 requests while status.json is rewritten
as fast as another process can: no request fails and every answer is complete and valid.
(How fast it answers is measured in the benchmark's reliability section, not asserted here.)"""

from __future__ import annotations

from benchmarks.reliability import check_answer, monitor_load


def test_sixteen_clients_times_five_hundred_requests_during_status_rewrites(tmp_path):
    result = monitor_load(tmp_path, clients=16, requests_per_client=500, rewrite=True, time_limit_s=240)
    print(
        f"\n{result.requests} requests, {result.requests_per_s:.0f} req/s, p50 {result.percentile_ms(50):.1f} ms, "
        f"p99 {result.percentile_ms(99):.1f} ms, {result.rewrite_hz:.0f} status rewrites/s"
    )
    assert result.problems == []
    assert result.requests == 16 * 500  # all of them were made within the time limit
    assert result.failed == 0 and result.invalid == 0
    assert result.rewrites >= 100  # the answers really were read while the file was being replaced


def test_the_answer_check_rejects_what_it_should():
    assert check_answer("/health", 200, b'{"status": "pass"}') is None
    assert "HTTP 503" in check_answer("/health", 503, b'{"status": "fail"}')
    assert "invalid JSON" in check_answer("/health", 200, b'{"status": "pa')
    assert "unexpected body" in check_answer("/health", 200, b'{"status": "fail"}')
    assert check_answer("/metrics", 200, b"# HELP reid_persons x\nreid_persons 3.0\n") is None
    assert "invalid line" in check_answer("/metrics", 200, b"reid_persons 3.0\nreid_frames_do")
