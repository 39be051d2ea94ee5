"""Annotated copies of the videos: boxes, person ids and the running count, drawn with OpenCV.

Only OpenCV's built-in Hershey fonts are used, so nothing is downloaded. The copy is written
under a hidden temporary name and renamed when complete, so a file named like a finished
video always is one; an existing file is never overwritten.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..core.errors import OutputError

if TYPE_CHECKING:
    from .writer import CropWriter

PERSON_COLOUR = (60, 200, 60)  # BGR: a track that has a person folder
TENTATIVE_COLOUR = (170, 170, 170)  # a track too young (or too weak) to have one yet
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_annotations(
    frame: np.ndarray, boxes: Iterable[tuple[tuple[float, float, float, float], str, bool]], count_text: str
) -> np.ndarray:
    """A copy of ``frame`` with each ``(box, label, is_person)`` drawn and ``count_text`` in a corner."""
    out = frame.copy()
    height, width = out.shape[:2]
    scale = max(0.4, min(1.2, height / 720))
    thickness = max(1, round(2 * scale))
    for (x1, y1, x2, y2), label, is_person in boxes:
        colour = PERSON_COLOUR if is_person else TENTATIVE_COLOUR
        p1, p2 = (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2)))
        cv2.rectangle(out, p1, p2, colour, thickness)
        (tw, th), base = cv2.getTextSize(label, FONT, scale, thickness)
        top = max(0, p1[1] - th - base - 2)
        cv2.rectangle(out, (p1[0], top), (min(width - 1, p1[0] + tw + 4), top + th + base + 2), colour, cv2.FILLED)
        cv2.putText(out, label, (p1[0] + 2, top + th + 1), FONT, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    (tw, th), base = cv2.getTextSize(count_text, FONT, scale * 1.1, thickness)
    cv2.rectangle(out, (0, 0), (tw + 12, th + base + 12), (0, 0, 0), cv2.FILLED)
    cv2.putText(out, count_text, (6, th + 6), FONT, scale * 1.1, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def free_path(folder: Path, video: Path) -> Path:
    """``folder/<stem>_annotated.mp4``, or ``..._2.mp4`` and so on if that exists already."""
    candidate = folder / f"{video.stem}_annotated.mp4"
    n = 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{video.stem}_annotated_{n}.mp4"
    return candidate


class AnnotatedVideo:
    """An MPEG-4 copy of one video; ``close()`` gives it its name (what was written of a video
    that failed midway is kept too: it shows how far it went)."""

    def __init__(self, folder: Path, video: Path, fps: float, size: tuple[int, int]) -> None:
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None
        self.video = Path(video)
        self.path = free_path(Path(folder), self.video)
        # unique per writer: two runs annotating the same video never share a partial file
        self._partial = self.path.with_name(f".{self.path.stem}.{os.getpid()}-{secrets.token_hex(3)}.partial.mp4")
        self._writer = cv2.VideoWriter(str(self._partial), cv2.VideoWriter_fourcc(*"mp4v"), fps or 25.0, size)
        if not self._writer.isOpened():
            raise OutputError(f"cannot write the annotated video {self.path}")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> Path | None:
        self._writer.release()
        if self.frames == 0:
            self._partial.unlink(missing_ok=True)
            return None
        while True:
            try:
                os.link(self._partial, self.path)  # fails rather than overwrite a file that appeared meanwhile
                break
            except FileExistsError:
                self.path = free_path(self.path.parent, self.video)
        self._partial.unlink()
        return self.path


Box = tuple[tuple[float, float, float, float], str, bool]  # box, label, has a person folder


class NoAnnotation:
    """The annotator of a run without ``--save-video``: the frame loop calls it all the same."""

    def add(self, frame: np.ndarray, boxes: list[Box], count_text: str) -> None:
        pass

    def finish(self, done: Callable[[Path | None], None]) -> None:
        done(None)


class VideoAnnotator:
    """Draws each frame's boxes and writes the annotated copy of one video, on the crop writer's
    thread (in frame order, and the detector loop does not wait for the encoder)."""

    def __init__(self, folder: Path, video: Path, fps: float, size: tuple[int, int], writer: CropWriter) -> None:
        self.video = AnnotatedVideo(folder, video, fps, size)
        self.writer = writer

    def add(self, frame: np.ndarray, boxes: list[Box], count_text: str) -> None:
        self.writer.call(self._draw, frame, boxes, count_text)

    def _draw(self, frame: np.ndarray, boxes: list[Box], count_text: str) -> None:
        self.video.write(draw_annotations(frame, boxes, count_text))

    def finish(self, done: Callable[[Path | None], None]) -> None:
        """Close the copy after the frames queued before; ``done(path)`` receives its final name."""
        self.writer.call(lambda: done(self.video.close()))


def annotator_for(
    folder: Path | None, video: Path, fps: float, size: tuple[int, int], writer: CropWriter
) -> NoAnnotation | VideoAnnotator:
    return NoAnnotation() if folder is None else VideoAnnotator(folder, video, fps, size, writer)
