"""Finding, checking and streaming videos with OpenCV.

Frames are decoded on a background thread into a small bounded queue: decoding overlaps
the detector (OpenCV releases the GIL) and memory stays flat however long the video is.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# FFmpeg prints its own decoder complaints ("moov atom not found", "Invalid NAL unit") to
# stderr; we report damaged videos in one clear line instead. Set before cv2 loads FFmpeg.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np

from ..core.config import VIDEO_SUFFIXES
from ..core.errors import InputError
from ..core.prefetch import prefetch

log = logging.getLogger(__name__)

# Used when a container does not state its frame rate.
FALLBACK_FPS = 30.0


@dataclass(frozen=True)
class VideoInfo:
    path: Path  # a live source's: a name whose stem names its crops and output files
    frame_count: int  # as the container states it; 0 when unknown
    fps: float
    width: int
    height: int
    # how the video is shown and stored when not by its path: a live source's URL without the password,
    # or a video copied to a worker on another machine (its path on the owner's)
    label: str | None = None
    live: bool = False

    @property
    def shown(self) -> str:
        """The video as track.json and the registry name it: its absolute path, or a live source's label."""
        return self.label if self.label is not None else str(self.path.resolve())

    @property
    def name(self) -> str:
        return self.label if self.live and self.label is not None else self.path.name


def find_videos(path: Path) -> list[Path]:
    """The video files at ``path``: the file itself (whatever its suffix), or every video below the
    folder (by suffix, ``VIDEO_SUFFIXES``), sorted.

    Raises ``InputError`` when the path is missing or is a folder that holds no videos.
    """
    path = Path(path)
    suffixes = ", ".join(VIDEO_SUFFIXES)
    if not path.exists():
        raise InputError(f"{path} does not exist; put videos ({suffixes}) there or pass --videos PATH")
    if path.is_file():
        return [path]  # named directly: any container FFmpeg decodes (probe_video checks it)
    videos = sorted(
        p
        for p in path.rglob("*")
        if p.suffix.lower() in VIDEO_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not videos:
        raise InputError(f"no videos in {path} (looked for {suffixes})")
    return videos


def find_all_videos(paths: Sequence[Path]) -> list[Path]:
    """The videos of every path in ``paths`` (see ``find_videos``), in order, each file once."""
    found: dict[Path, Path] = {}
    for path in paths:
        for video in find_videos(path):
            found.setdefault(video.resolve(), video)
    return list(found.values())


def probe_video(path: Path) -> VideoInfo:
    """Open the video and decode its first frame; ``InputError`` if either fails."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(f"{path} cannot be opened as a video (not a video, or damaged)")
        ok, frame = capture.read()
        if not ok or frame is None:
            raise InputError(f"{path} has no frame that can be decoded (damaged or truncated)")
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        fps = capture.get(cv2.CAP_PROP_FPS)
        height, width = frame.shape[:2]
    finally:
        capture.release()
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        log.warning("%s does not state a usable frame rate; assuming %.0f fps", path, FALLBACK_FPS)
        fps = FALLBACK_FPS
    frame_count = int(count) if math.isfinite(count) and count > 0 else 0
    return VideoInfo(path=path, frame_count=frame_count, fps=float(fps), width=width, height=height)


class FrameReader:
    """Iterates ``(frame_index, frame)`` over a video, decoding ahead on a background thread.

    With ``prepare``, it iterates ``(frame_index, frame, prepare(frame))``: the detector's input
    is made on the same thread, while the detector works on an earlier frame.
    ``frames_read`` tells afterwards how many frames were decoded; comparing it with the
    stated frame count reveals truncated files. Use as a context manager so the thread
    stops when the consumer stops early.
    """

    def __init__(
        self, path: Path, max_frames: int = 0, prefetch: int = 4, prepare: Callable[[np.ndarray], Any] | None = None
    ) -> None:
        self.path = Path(path)
        self.max_frames = max_frames
        self.depth = prefetch
        self.prepare = prepare
        self.frames_read = 0
        self.error: str | None = None
        self._frames: Iterator[tuple[Any, ...]] | None = None

    def __enter__(self) -> FrameReader:
        self._frames = prefetch(self._decode(), self.depth)
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        if self._frames is None:
            raise RuntimeError("use FrameReader in a with block")
        return self._frames

    def _decode(self) -> Iterator[tuple[Any, ...]]:
        capture = cv2.VideoCapture(str(self.path))
        try:
            if not capture.isOpened():
                self.error = "cannot be opened as a video"
                return
            index = 0
            while self.max_frames <= 0 or index < self.max_frames:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                yield (index, frame) if self.prepare is None else (index, frame, self.prepare(frame))
                index += 1
                self.frames_read = index
        except cv2.error as exc:  # a damaged stream can make the decoder raise
            self.error = f"decoding failed: {exc}"
        finally:
            capture.release()
