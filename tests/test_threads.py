"""The pipeline's threads carry their names into the operating system (``top -H``, /proc)."""

from __future__ import annotations

import sys
import threading

import pytest

from reid.core.threads import NamedThread
from reid.tracking.pipeline import Detecting


def native_name() -> str:
    return open(f"/proc/self/task/{threading.get_native_id()}/comm").read().strip()


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread names in /proc are Linux's")


def test_a_named_thread_is_known_by_its_name_to_the_system():
    seen = []
    thread = NamedThread(target=lambda: seen.append(native_name()), name="crop-writer")
    thread.start()
    thread.join()
    assert seen == ["crop-writer"]


def test_the_detector_copies_threads_are_named_too():
    with Detecting(lambda item: native_name(), copies=2) as detect:
        names = {detect(item).result() for item in range(6)}
    assert names <= {"detector_0", "detector_1"} and names
