"""Skip the detector where nothing can have changed, the costliest work of the tracking stage.

A cheap test on a small grey copy of each frame (``WIDTH`` pixels wide, blurred against sensor
noise) compares it with the last frame the detector saw. When almost no pixel changed
(``CHANGED_SHARE``), the detector would find what it found then:

* with no track at all (none followed, none lost and waiting to be found again), the frame is
  skipped: only someone coming into view could matter, and that moves pixels;
* otherwise, if no tracked person moved either (under ``BOX_CHANGED_SHARE`` of the pixels in each
  of their boxes: a small person walking far away changes few pixels of the frame but many of
  their own box), the frame shows the same people where they were: the last frame's tracked
  boxes stand for it, and the tracker is not asked. Its clock still moves (``PersonTracker.hold``):
  the tracks it follows were seen where they stood, and a lost track ages with the video, so an id
  lost before a still stretch is given up after its ``track_buffer`` frames, never kept through the
  stillness for whoever walks up next.

Either way the frame not detected shows what the frame before it showed (nobody, where the tracker
holds no track). The detector still runs at least once every ``MAX_SKIP_S``, whatever the pixels
say.

With ``--detect-fps`` (off by default), frames that changed are detected only that many times a
second (``detect_stride``: with 10, every third frame of a 30 fps video) while every tracked person
is tall (``STRIDE_MIN_HEIGHT`` of the frame) and none waits to be confirmed. The frames between are
not detected (``BETWEEN``): the tracking step gives them the boxes of the detections around them,
interpolated, and takes no crop from them. Small, far people are found only in some frames and need
every one: striding whatever the sizes lost two of them on Venice-2 (BENCHMARKS.md, "Fewer
detections while people move"). A first frame, a frame after a still stretch and the frame a second
after the last detection are detected at once. Whether to stride is decided on what the tracker held
``stride_lag`` frames back, far enough that the detector's copies are not waited for.

What the tracker holds is told as it was ``TRACKS_BEHIND`` frames back, so that the frame between
may still be in the detector: at most two frames are detected at once where the gate must ask
(more copies of the detector only help on frames that changed, or with ``--no-skip``), and a
video's first two frames are asked about as if no track existed yet (the first is always detected).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

WIDTH = 160  # pixels across the frame for the motion test
PIXEL_DELTA = 10  # grey levels a pixel must change by (after the blur) to count as changed
CHANGED_SHARE = 0.0005  # share of the frame that must change: a 14x5 px person far away in 640x360
BOX_CHANGED_SHARE = 0.01  # share of a tracked person's box that must change
MAX_SKIP_S = 1.0  # the detector still looks at least this often
# The gate is told what the tracker held this many frames back, not one: the frame between may still be
# in the detector (its copies detect successive frames at once, ``--detectors``). A fixed number, so that
# the gate decides the same whatever the machine's cores, the copies or the timing.
TRACKS_BEHIND = 2
TRACKS_KEPT = 16  # frames back the tracking step keeps what the tracker held, for the gate to ask
STRIDE_MIN_HEIGHT = 1 / 6  # share of the frame's height every tracked person must have for --detect-fps


DETECT, REPEAT, SKIP, BETWEEN = "detect", "repeat", "skip", "between"


def detect_stride(fps: float, detect_fps: float) -> int:
    """Frames from one detection to the next while the pixels change: the most that keeps at least
    ``detect_fps`` detections a second (0: every frame).

    >>> [detect_stride(fps, 10) for fps in (30, 29.97, 25, 15, 10, 5, 0)], detect_stride(30, 0)
    ([3, 2, 2, 1, 1, 1, 1], 1)
    """
    if detect_fps <= 0 or fps <= 0:
        return 1
    return max(1, int(fps // detect_fps))


@dataclass(frozen=True)
class Tracks:
    """What the gate must know of the tracker, as it was ``TRACKS_BEHIND`` frames back."""

    idle: bool = True  # no track at all, followed or lost
    # a person just found is confirmed on the next detection; waiting a second for it shortens
    # their track (measured: a still 19x44 px walker on Venice-2 fell under the 1 s minimum)
    tentative: bool = False
    boxes: Sequence[Sequence[float]] = ()  # where the tracked people were, in the frame's pixels


class AlwaysDetect:
    """The gate of a run that skips nothing (``--no-skip``, or a tracker that cannot say it is idle)."""

    skipped = 0
    stride = 1

    def decide(self, frame: np.ndarray, tracks: Callable[..., Tracks]) -> str:
        return DETECT


class MotionGate:
    """Says, frame by frame, whether the detector must run (see the module docstring)."""

    def __init__(self, fps: float, stride: int = 1) -> None:
        self.max_skip = max(1, round(MAX_SKIP_S * fps))
        self.stride = max(1, stride)  # frames from one detection to the next while pixels change
        # what the tracker held this far back decides whether to stride: far enough that the detector's
        # copies are not waited for (the frame detected last may still be in one)
        self.stride_lag = min(max(TRACKS_BEHIND, 2 * self.stride), TRACKS_KEPT - 1)
        self.reference: np.ndarray | None = None
        self.since_detected = 0
        self.skipped = 0  # frames the detector did not see, in this video (between ones included)

    def _may_stride(self, state: Tracks, height: int) -> bool:
        """Whether every tracked person is large enough to be found in any frame, and none waits to
        be confirmed: small, far people are found only now and then, and need every detection."""
        if state.tentative:
            return False
        return all(y2 - y1 >= STRIDE_MIN_HEIGHT * height for _, y1, _, y2 in state.boxes)

    def decide(self, frame: np.ndarray, tracks: Callable[..., Tracks]) -> str:
        """DETECT, BETWEEN (pixels changed, but the next detection is a few frames on), REPEAT
        (people who stand still: the last detections again) or SKIP (no track, nothing to do; the
        tracking step repeats the last detections too, which are none then). ``tracks`` is asked only
        when the pixels barely changed (and, with a stride, about ``stride_lag`` frames back: its one
        argument): it may have to wait for the tracking step, and a frame that changed is detected (or
        left between) whatever the tracker holds."""
        small = _small_grey(frame)
        run = self.reference is None or self.since_detected + 1 >= self.max_skip or small.shape != self.reference.shape
        if not run:
            changed = cv2.absdiff(small, self.reference) > PIXEL_DELTA
            run = changed.mean() > CHANGED_SHARE
            if not run:
                state = tracks()
                run = state.tentative or _moved(changed, state.boxes, small.shape[1] / frame.shape[1])
            early = self.since_detected + 1 < self.stride  # the next detection is a few frames on
            if run and early and self._may_stride(tracks(self.stride_lag), frame.shape[0]):
                self.since_detected += 1
                self.skipped += 1
                return BETWEEN
        if run:
            self.reference, self.since_detected = small, 0
            return DETECT
        self.since_detected += 1
        self.skipped += 1
        return SKIP if state.idle else REPEAT


def _small_grey(frame: np.ndarray) -> np.ndarray:
    """The frame in grey, ``WIDTH`` pixels wide, each pixel the mean of the pixels it covers. Halving
    first is OpenCV's fast path (a 768-pixel frame: 0.3 ms instead of 0.9 ms in one step)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    while grey.shape[1] >= 2 * WIDTH:
        grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
    height = max(1, round(frame.shape[0] * WIDTH / frame.shape[1]))
    small = cv2.resize(grey, (WIDTH, height), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (5, 5), 0)


def _moved(changed: np.ndarray, boxes: Sequence[Sequence[float]], scale: float) -> bool:
    """Whether enough of any box (in the frame's pixels) changed, on the small image ``changed``."""
    height, width = changed.shape
    for x1, y1, x2, y2 in boxes:
        left, top = max(0, int(x1 * scale)), max(0, int(y1 * scale))
        right, bottom = min(width, int(np.ceil(x2 * scale))), min(height, int(np.ceil(y2 * scale)))
        if right > left and bottom > top and changed[top:bottom, left:right].mean() > BOX_CHANGED_SHARE:
            return True
    return False


def gate_for(enabled: bool, tracker: object, fps: float, detect_fps: float = 0.0) -> AlwaysDetect | MotionGate:
    """A motion gate when asked for and the tracker can say it holds no track; else no gate."""
    if enabled and hasattr(tracker, "is_idle"):
        return MotionGate(fps, detect_stride(fps, detect_fps))
    return AlwaysDetect()
