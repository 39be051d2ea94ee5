"""The frames step: one video's frames through the gate and the detector to the tracks step.

``track_frames`` runs the frame loop on three threads (``pipeline.py``): frames are read and
prepared ahead, the calling thread runs the gate and the model (or hands frames to the detector's
copies, each on a thread of its own), and the tracking thread (``AfterDetection``) tracks, chooses
crops, annotates and reports progress.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import numpy as np

from ..core.config import TrackingConfig
from ..core.errors import InputError
from .after_detection import AfterDetection, Progress
from .gate import DETECT, gate_for
from .pipeline import Detecting, InOrder
from .progress import VideoResult
from .videos import FrameReader, VideoInfo

# A video counts as truncated when it ends this many frames before its stated length
# (containers often state a count a frame or two off).
TRUNCATION_TOLERANCE = 0.01


def frames_to_process(info: VideoInfo, max_frames: int) -> int:
    """The frames of ``info`` a run limited to ``max_frames`` (0: all) tracks, as far as is known."""
    if max_frames and (not info.frame_count or info.frame_count > max_frames):
        return max_frames
    return info.frame_count


def track_frames(info: VideoInfo, config: TrackingConfig, after: AfterDetection, progress: Progress) -> None:
    """Every frame of the video (or live source) ``info`` through ``after``. Frames are prepared ahead
    only while the detector runs on every frame (on footage the gate skips or strides through,
    preparing would be mostly wasted); the others, and a live source's (its reader keeps only the
    newest frames), by the detector's copy that takes them. ``InputError`` when the video cannot be
    read to its end."""
    after.tracker.start_video()
    stages, result, live = after.stages, after.result, after.live
    gate = gate_for(config.skip_still_frames, after.tracker, info.fps, config.detect_fps)
    stride = gate.stride
    detecting = True  # the last frame's decision: the reader thread reads it

    def prepare_ahead(frame: np.ndarray) -> Any:
        return stages.prepare(frame) if detecting else None

    def prepare_and_detect(job: tuple[np.ndarray, Any]) -> tuple[Any, Any]:
        frame, prepared = job
        if prepared is None and stages.prepare is not None:
            prepared = stages.prepare(frame)
        return prepared, stages.detect(prepared)

    if live is not None:
        reader: Any = contextlib.nullcontext(live)
    else:
        # while people move, one frame in ``stride`` is detected: preparing ahead would mostly miss it
        ahead = prepare_ahead if stages.prepare is not None and stride == 1 else None
        reader = FrameReader(info.path, config.max_frames, prepare=ahead)
    copies = stages.copies
    # the tracking thread's queue holds a detected frame for each copy and the frames between them, so
    # that no copy waits while it tracks
    with (
        Detecting(prepare_and_detect, copies) as detect,
        reader as frames,
        InOrder(after.handle, 1 + copies * stride) as worker,
    ):
        for position, (index, frame, *ready) in enumerate(frames):
            decision = gate.decide(frame, functools.partial(after.tracks_before, position, worker))
            detecting = decision == DETECT
            # a frame not prepared ahead is prepared by the detector's copy, on its thread
            detected = detect((frame, ready[0] if ready else None)) if detecting else None
            worker.put((position, index, frame, decision, detected))
    after.finish()  # the frames between the last detection and the end
    result.skipped_frames = gate.skipped
    if live is not None:
        if live.error:  # the stream went away for good: a failed source, though what was tracked stands
            progress.problem(result.video, f"{result.video}: {live.error}", failed=result)
        return
    if frames.error:
        raise InputError(f"{info.path}: {frames.error}")
    _check_length(info, config.max_frames, result, progress)


def _check_length(info: VideoInfo, max_frames: int, result: VideoResult, progress: Progress) -> None:
    expected = frames_to_process(info, max_frames)
    if expected and result.frames < expected * (1 - TRUNCATION_TOLERANCE) - 1:
        result.warning = (
            f"{info.path}: ended after {result.frames} of {expected} frames (the file is truncated or damaged)"
        )
        progress.problem(info.path, result.warning)
