"""``--workers N``: videos tracked in N processes at once, the persons folder kept by this one.

Each worker process loads the detector once (with its share of the cores), then asks for videos
one at a time; what it would write comes back as messages (``remote.py``) that this process, the
owner, carries out. Each worker has two pipes of its own, one each way, and no lock is shared
between processes, so a worker killed at any instant (even halfway through a message) harms no
other: its video is reported as failed and the others go on. A worker that sends nothing, not even
the heartbeat its own thread sends every ``ALIVE_S``, for ``HUNG_AFTER_S`` is taken for hung and
ended the same way.

A worker never outlives its owner: it dies with it (``PR_SET_PDEATHSIG`` on Linux), its pipes break
when the owner's ends close, and its heartbeat thread checks that its parent is still the owner.
Workers ignore Ctrl-C: the owner decides (a live source ends as done through ``stop``; otherwise
the workers are ended and their videos left as an interrupted run leaves them).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

from ..core.config import TrackingConfig
from ..core.errors import ReidError
from ..core.threads import NamedThread
from .messages import (
    Message,
    StopLive,
    VideoBatch,
    VideoFailed,
    VideoTask,
    WorkerAlive,
    WorkerReady,
    WorkerUnusable,
    is_last,
)
from .remote import track_task

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often a silent pool is checked for dead, hung or orphaned workers
ALIVE_S = 2.0  # a worker's heartbeat
HUNG_AFTER_S = 60.0  # a worker silent this long (no heartbeat either) is ended, its video failed
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def threads_per_worker(config: TrackingConfig, workers: int) -> int:
    """``--threads`` when given, else an equal share of the cores.

    >>> threads_per_worker(TrackingConfig(), 2) >= 1
    True
    """
    return config.threads or max(1, (os.cpu_count() or 1) // workers)


@dataclasses.dataclass
class Worker:
    """One worker process as the owner sees it."""

    process: Any
    inbox: Connection  # owner -> worker: tasks, then None
    outbox: Connection  # worker -> owner: messages
    video: int | None = None  # the video it tracks now
    heard: float = dataclasses.field(default_factory=time.monotonic)  # when it last sent anything
    ended: bool = False


class ProcessPool:
    """N worker processes tracking ``VideoTask``s; ``results`` yields each video's messages."""

    def __init__(
        self, config: TrackingConfig, workers: int, *, work: Any = None, hung_after_s: float = HUNG_AFTER_S
    ) -> None:
        """``work``: what a worker process runs (``_work``; tests give their own)."""
        context = multiprocessing.get_context("spawn")  # no fork: torch and threads do not survive it
        worker_config = dataclasses.replace(config, threads=threads_per_worker(config, workers))
        self.workers: list[Worker] = []
        for n in range(workers):
            inbox_read, inbox = context.Pipe(duplex=False)
            outbox, outbox_write = context.Pipe(duplex=False)
            process = context.Process(
                target=work or _work,
                args=(worker_config, inbox_read, outbox_write, os.getpid(), log.getEffectiveLevel()),
                name=f"tracking-worker-{n + 1}",
                daemon=True,
            )
            process.start()
            inbox_read.close()  # the worker's ends: its death shows here as the end of its pipe
            outbox_write.close()
            self.workers.append(Worker(process, inbox, outbox))
        self.tasks: list[VideoTask] = []  # submitted, not yet given to a worker
        self.pending: set[int] = set()  # submitted, not yet ended
        self.stopping = threading.Event()
        self.stop_sent = False
        self.hung_after_s = hung_after_s

    def submit(self, task: VideoTask) -> None:
        self.pending.add(task.index)
        self.tasks.append(task)

    def results(self) -> Iterator[tuple[int, list[Message]]]:
        """Every message of every submitted video, as it comes, until each has its last one."""
        while self.pending:
            if self.stopping.is_set() and not self.stop_sent:
                self.stop_sent = True
                for worker in self._alive():
                    self._send(worker, StopLive())
            listening = {w.outbox: w for w in self._alive()}
            if not listening:  # no worker left to take them
                for index in sorted(self.pending):
                    yield index, [VideoFailed("no worker process was left to track it")]
                self.pending.clear()
                return
            for outbox in wait(list(listening), timeout=POLL_S):
                yield from self._receive(listening[outbox])
            yield from self._hung()

    def _receive(self, worker: Worker) -> Iterator[tuple[int, list[Message]]]:
        try:
            message = worker.outbox.recv()
        except (EOFError, OSError):  # it died, perhaps halfway through a message
            yield from self._ended(worker, self._death(worker))
            return
        worker.heard = time.monotonic()
        if isinstance(message, WorkerReady):
            worker.video = None
            self._send(worker, self.tasks.pop(0) if self.tasks else None)
        elif isinstance(message, WorkerUnusable):
            raise ReidError(message.message)
        elif isinstance(message, VideoBatch):
            if message.index != worker.video:
                log.error("a worker sent messages of a video it was not given (%r): refused", message.index)
                return
            if is_last(message.messages):
                worker.video = None
                self.pending.discard(message.index)
            yield message.index, message.messages

    def _hung(self) -> Iterator[tuple[int, list[Message]]]:
        for worker in self._alive():
            silent = time.monotonic() - worker.heard
            if silent > self.hung_after_s and not worker.outbox.poll():  # not a message this loop has yet to read
                worker.process.kill()
                yield from self._ended(worker, f"stopped answering (nothing for {silent:.0f} s), so it was ended")

    def _death(self, worker: Worker) -> str:
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        return f"died ({f'killed by signal {-code}' if code is not None and code < 0 else f'exit code {code}'})"

    def _ended(self, worker: Worker, how: str) -> Iterator[tuple[int, list[Message]]]:
        worker.ended = True
        if worker.video is not None and worker.video in self.pending:
            self.pending.discard(worker.video)
            yield worker.video, [VideoFailed(f"the worker process tracking it {how}")]
        worker.video = None

    def _alive(self) -> list[Worker]:
        return [w for w in self.workers if not w.ended]

    def _send(self, worker: Worker, item: Any) -> None:
        if isinstance(item, VideoTask):
            worker.video = item.index
        try:
            worker.inbox.send(item)
        except OSError:  # it died meanwhile: its pipe's end tells the loop
            log.debug("a worker's pipe broke", exc_info=True)

    def stop(self) -> None:
        """End live sources as done; videos go on. Safe from a signal handler (the loop tells the workers)."""
        self.stopping.set()

    def close(self) -> None:
        """Wait for workers that are done; end those still working (after Ctrl-C or an error)."""
        for worker in self.workers:
            if not worker.ended:
                self._send(worker, None)
        for worker in self.workers:
            worker.process.join(timeout=5 if not self.pending else 0)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.inbox.close()
            worker.outbox.close()


class _Sender:
    """A worker's one way to the owner, shared by its threads; a broken pipe means the owner is gone."""

    def __init__(self, outbox: Connection) -> None:
        self.outbox = outbox
        self.lock = threading.Lock()

    def send(self, message: Any) -> None:
        try:
            with self.lock:
                self.outbox.send(message)
        except OSError:  # the owner died: nobody will carry out what this worker tracks
            os._exit(1)


def _die_with(owner: int) -> None:
    """Be killed when the owner dies (Linux), and end now if it has died already."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != owner:
        os._exit(1)


def _listen(inbox: Connection, tasks: queue.Queue, stop: threading.Event) -> None:
    """The owner's messages to this worker: tasks (then None) and ``StopLive``; its end means it died."""
    while True:
        try:
            item = inbox.recv()
        except (EOFError, OSError):
            os._exit(1)
        if isinstance(item, StopLive):
            stop.set()
        else:
            tasks.put(item)


def _beat(sender: _Sender, owner: int) -> None:
    """The heartbeat, and the check that the owner still lives (where no parent-death signal is)."""
    while True:
        time.sleep(ALIVE_S)
        if os.getppid() != owner:
            os._exit(1)
        sender.send(WorkerAlive())


def _work(config: TrackingConfig, inbox: Connection, outbox: Connection, owner: int, log_level: int) -> None:
    """A worker process: load the detector, then track the videos the owner gives it until ``None``."""
    _die_with(owner)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the owner to handle
    logging.basicConfig(level=max(log_level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s")
    sender, tasks, stop = _Sender(outbox), queue.Queue(), threading.Event()
    NamedThread(target=_listen, args=(inbox, tasks, stop), name="owner-listener", daemon=True).start()
    NamedThread(target=_beat, args=(sender, owner), name="heartbeat", daemon=True).start()
    from .detector import PersonTracker

    try:
        tracker = PersonTracker(config)
    except ReidError as exc:
        sender.send(WorkerUnusable(str(exc)))
        return
    while True:
        sender.send(WorkerReady())
        task = tasks.get()
        if task is None:
            return
        track_task(task, config, tracker, lambda messages, i=task.index: sender.send(VideoBatch(i, messages)), stop)
