"""``--workers N``: videos tracked in N processes at once, the persons folder kept by this one.

Each worker process loads the detector once (with its share of the cores) and takes videos from a
queue; what it would write comes back as messages (``remote.py``) that this process carries out.
Workers ignore Ctrl-C: this process decides (a live source ends as done through ``stop``; otherwise
the workers are ended and their videos left as an interrupted run leaves them). A worker that dies
is noticed, its video reported as failed, and the others go on.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import queue
import signal
from collections.abc import Iterator
from typing import Any

from ..core.config import TrackingConfig
from ..core.errors import ReidError
from .messages import Message, VideoFailed, VideoTask, is_last
from .remote import track_task

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often a silent pool is checked for dead workers
BACKLOG = 64  # message batches waiting for this process: workers wait beyond it


def threads_per_worker(config: TrackingConfig, workers: int) -> int:
    """``--threads`` when given, else an equal share of the cores.

    >>> threads_per_worker(TrackingConfig(), 2) >= 1
    True
    """
    return config.threads or max(1, (os.cpu_count() or 1) // workers)


class ProcessPool:
    """N worker processes tracking ``VideoTask``s; ``results`` yields each video's messages."""

    def __init__(self, config: TrackingConfig, workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # no fork: torch and threads do not survive it
        self.tasks: Any = context.Queue()
        self.messages: Any = context.Queue(maxsize=BACKLOG)
        self.stop_event = context.Event()
        worker_config = dataclasses.replace(config, threads=threads_per_worker(config, workers))
        self.processes = [
            context.Process(
                target=_work,
                args=(worker_config, self.tasks, self.messages, self.stop_event, log.getEffectiveLevel()),
                name=f"tracking-worker-{n + 1}",
                daemon=True,
            )
            for n in range(workers)
        ]
        for process in self.processes:
            process.start()
        self.pending: set[int] = set()
        self.holding: dict[int, int] = {}  # worker pid -> the video it tracks

    def submit(self, task: VideoTask) -> None:
        self.pending.add(task.index)
        self.tasks.put(task)

    def results(self) -> Iterator[tuple[int, list[Message]]]:
        """Every message of every submitted video, as it comes, until each has its last one."""
        for _ in self.processes:
            self.tasks.put(None)  # each worker ends once the queue is done
        while self.pending:
            try:
                message = self.messages.get(timeout=POLL_S)
            except queue.Empty:
                yield from self._dead_workers()
                continue
            kind = message[0]
            if kind == "start":
                self.holding[message[2]] = message[1]
            elif kind == "unusable":
                raise ReidError(message[1])
            elif kind == "ops":
                index, ops = message[1], message[2]
                if is_last(ops):
                    self.pending.discard(index)
                    self.holding = {pid: i for pid, i in self.holding.items() if i != index}
                yield index, ops

    def _dead_workers(self) -> Iterator[tuple[int, list[Message]]]:
        for process in self.processes:
            if process.is_alive() or process.pid not in self.holding:
                continue
            index = self.holding.pop(process.pid)
            self.pending.discard(index)
            code = process.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            yield index, [VideoFailed(f"the worker process tracking it died ({how})")]
        if self.pending and not any(p.is_alive() for p in self.processes):
            for index in sorted(self.pending):  # no worker left to take them
                yield index, [VideoFailed("no worker process was left to track it")]
            self.pending.clear()

    def stop(self) -> None:
        """End live sources as done; videos go on."""
        self.stop_event.set()

    def close(self) -> None:
        """Wait for workers that are done; end those still working (after Ctrl-C or an error)."""
        for process in self.processes:
            process.join(timeout=5 if not self.pending else 0)
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)
        for handle in (self.tasks, self.messages):
            handle.cancel_join_thread()
            handle.close()


def _work(config: TrackingConfig, tasks: Any, messages: Any, stop: Any, log_level: int) -> None:
    """A worker process: load the detector, then track videos from ``tasks`` until ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the owner to handle
    logging.basicConfig(level=max(log_level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s")
    from .detector import PersonTracker

    try:
        tracker = PersonTracker(config)
    except ReidError as exc:
        messages.put(("unusable", str(exc)))
        return
    while (task := tasks.get()) is not None:
        messages.put(("start", task.index, os.getpid()))
        track_task(task, config, tracker, lambda ops, index=task.index: messages.put(("ops", index, ops)), stop)
