"""Videos tracked by a pool of workers (``workers.ProcessPool``, ``cluster.RayPool``) while this
process, the owner of the persons folder, writes what they send (``owner.py``) and keeps the
registry (``ledger.py``) and the status (``progress.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol

from .ledger import Ledger
from .messages import FILE_MESSAGES, FramesDone, Message, Problem, VideoDone, VideoTask
from .owner import FolderOwner
from .progress import RunProgress, VideoResult

log = logging.getLogger(__name__)


class Pool(Protocol):
    """Workers that track videos away from this process."""

    def submit(self, task: VideoTask) -> None: ...
    def results(self) -> Iterator[tuple[int, list[Message]]]: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


def track_in_pool(
    pool: Pool,
    tasks: list[VideoTask | None],
    results: list[VideoResult],
    owner: FolderOwner,
    ledger: Ledger,
    progress: RunProgress,
) -> None:
    """Every video with a task submitted to ``pool`` at once (``tasks[i]`` None: not to be tracked),
    and what the workers send carried out, checked, as it comes."""
    done = 0
    for task, result in zip(tasks, results, strict=True):
        if task is not None and ledger.begin(task.info, task.fingerprint, result, progress):
            progress.video_started(result.video)
            owner.admit(task)
            pool.submit(task)
        else:
            done += 1
            progress.video_ended(done, result.persons)
    for index, messages in pool.results():
        result = results[index]
        for received in messages:
            message = owner.receive(index, received)
            if message is None:
                continue
            if result.state != "running":  # after the video's last message: nothing more is taken
                log.error("%s: a worker's message after the video ended was refused", result.video)
                continue
            if isinstance(message, FramesDone):
                for _ in range(message.count):
                    progress.frame_done(len(owner.folders), result if result.live else None)
            elif isinstance(message, Problem):
                progress.problem(result.video, message.message)
            elif isinstance(message, FILE_MESSAGES):
                owner.apply(index, message)
            else:
                if isinstance(message, VideoDone):
                    fields = dict(message.fields)
                    fields["person_ids"] = [owner.person_id(index, p) for p in fields.get("person_ids", [])]
                    for name, value in fields.items():
                        setattr(result, name, value)
                    if result.state == "failed":  # a live source that could not be opened, or was given up on
                        progress.problem(result.video, result.error or f"{result.video} failed", failed=result)
                else:
                    progress.problem(result.video, message.message, failed=result)
                ledger.end(tasks[index].fingerprint, result)
                done += 1
                progress.video_ended(done, result.persons)
