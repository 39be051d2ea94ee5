"""The owner's side of ``--workers`` and ``--ray``: the one process that writes the persons folder
carries out what the workers' messages ask (``messages.py``), each checked first.

``FolderOwner`` gives each worker's provisional folder a real person id (the same ``IdAllocator``
as ever) and writes every file through the usual writer, atomically and in order. What a video's
folders say they come from (its fingerprint, the run) is the owner's, never a worker's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..core.persons import IdAllocator
from ..core.track_metadata import write_track_metadata
from .messages import DeleteCrop, Message, MessageError, SaveCrop, VideoTask, WriteMetadata, check
from .writer import CropWriter

log = logging.getLogger(__name__)


class FolderOwner:
    """Real folders for provisional ones, every file written by ``writer``."""

    def __init__(self, allocator: IdAllocator, writer: CropWriter) -> None:
        self.allocator = allocator
        self.writer = writer
        self.tasks: dict[int, VideoTask] = {}  # video -> what the owner admitted
        self.folders: dict[tuple[int, int], tuple[int, Path]] = {}  # (video, provisional) -> id, folder

    def admit(self, task: VideoTask) -> None:
        self.tasks[task.index] = task

    def provisional(self, video: int) -> set[int]:
        """The provisional folders of video ``video`` so far."""
        return {p for v, p in self.folders if v == video}

    def person_id(self, video: int, provisional: int) -> int:
        return self.folders[(video, provisional)][0]

    def receive(self, video: int, message: Any) -> Message | None:
        """``message`` of video number ``video`` checked, or None (logged) when it is refused."""
        try:
            return check(message, self.provisional(video))
        except MessageError as exc:
            log.error("%s: a worker's message was refused: %s", self.tasks[video].video, exc)
            return None

    def apply(self, video: int, message: WriteMetadata | SaveCrop | DeleteCrop) -> None:
        """Carry out one checked file message of video number ``video``."""
        if isinstance(message, WriteMetadata):
            document = self._own(video, message.document)
            if (video, message.folder) not in self.folders:  # a new folder, made with its track.json in it
                self.folders[(video, message.folder)] = self.allocator.create_folder(document)
            else:
                person_id, folder = self.folders[(video, message.folder)]
                self.writer.call(write_track_metadata, folder, {**document, "person_id": person_id})
        elif isinstance(message, SaveCrop):
            _, folder = self._folder(video, message.folder)
            self.writer.save_encoded(folder / message.name, message.jpeg)
        else:
            _, folder = self._folder(video, message.folder)
            self.writer.delete(folder / message.name)
        self.writer.check()

    def _folder(self, video: int, provisional: int) -> tuple[int, Path]:
        """The folder of a provisional one; a worker names a folder by its track.json first, but
        should one not, the folder is still made known as this video's (the owner's own track.json)."""
        key = (video, provisional)
        if key not in self.folders:
            task = self.tasks[video]
            stub = {"video": str(task.video), "complete": False, "crops": []}
            self.folders[key] = self.allocator.create_folder(self._own(video, stub))
        return self.folders[key]

    def _own(self, video: int, document: dict[str, Any]) -> dict[str, Any]:
        """A worker's ``track.json`` with what the owner knows better: its video and run."""
        task = self.tasks[video]
        return {**document, "run_id": task.context.run_id, "video_fingerprint": task.fingerprint}
