"""Skip the detector where nothing can have changed, the costliest work of the tracking stage.

A cheap test on a small grey copy of each frame (``WIDTH`` pixels wide, blurred against sensor
noise) compares it with the last frame the detector saw. When almost no pixel changed
(``CHANGED_SHARE``), the detector would find what it found then:

* with no track at all (none followed, none lost and waiting to be found again), the frame is
  skipped: only someone coming into view could matter, and that moves pixels;
* otherwise the tracker is given the last detections again (``PersonTracker.repeat``), so it
  advances exactly as after a detection that found the same people where they were.

The detector still runs at least once every ``MAX_SKIP_S``, whatever the pixels say, and any
change above the share runs it at once.
"""

from __future__ import annotations

import cv2
import numpy as np

WIDTH = 160  # pixels across the frame for the motion test
PIXEL_DELTA = 18  # grey levels a pixel must change by (after the blur) to count as changed
CHANGED_SHARE = 0.001  # share of the frame that must change: a 20x8 px person far away in 640x360
MAX_SKIP_S = 1.0  # the detector still looks at least this often


DETECT, REPEAT, SKIP = "detect", "repeat", "skip"


class AlwaysDetect:
    """The gate of a run that skips nothing (``--no-skip``, or a tracker that cannot say it is idle)."""

    skipped = 0

    def decide(self, frame: np.ndarray, idle: bool) -> str:
        return DETECT


class MotionGate:
    """Says, frame by frame, whether the detector must run (see the module docstring)."""

    def __init__(self, fps: float) -> None:
        self.max_skip = max(1, round(MAX_SKIP_S * fps))
        self.reference: np.ndarray | None = None
        self.since_detected = 0
        self.skipped = 0  # frames the detector did not see, in this video

    def decide(self, frame: np.ndarray, idle: bool) -> str:
        """DETECT, REPEAT (the last detections again) or SKIP (no track, nothing to do)."""
        small = _small_grey(frame)
        run = (
            self.reference is None
            or self.since_detected + 1 >= self.max_skip
            or small.shape != self.reference.shape
            or _changed_share(small, self.reference) > CHANGED_SHARE
        )
        if run:
            self.reference, self.since_detected = small, 0
            return DETECT
        self.since_detected += 1
        self.skipped += 1
        return SKIP if idle else REPEAT


def _small_grey(frame: np.ndarray) -> np.ndarray:
    height = max(1, round(frame.shape[0] * WIDTH / frame.shape[1]))
    small = cv2.resize(frame, (WIDTH, height), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return cv2.GaussianBlur(grey, (5, 5), 0)


def _changed_share(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(cv2.absdiff(a, b) > PIXEL_DELTA)) / a.size


def gate_for(enabled: bool, tracker: object, fps: float) -> AlwaysDetect | MotionGate:
    """A motion gate when asked for and the tracker can say it holds no track; else no gate."""
    return MotionGate(fps) if enabled and hasattr(tracker, "is_idle") and hasattr(tracker, "repeat") else AlwaysDetect()
