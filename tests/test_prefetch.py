"""The background read-ahead used for video frames and images."""

from __future__ import annotations

import threading

import pytest

from reid.core.prefetch import prefetch


def test_yields_everything_in_order():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_an_error_in_the_source_reaches_the_consumer_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise ValueError("broken file")

    seen = []
    with pytest.raises(ValueError, match="broken file"):
        for item in prefetch(source()):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_stops_the_thread_and_closes_the_source():
    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    before = threading.active_count()
    items = prefetch(endless(), depth=2)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()
    assert closed.wait(60)  # a hang guard: closing ends the generator on its thread
    assert threading.active_count() == before
