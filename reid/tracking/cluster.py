"""``--ray [ADDRESS]``: videos tracked as Ray tasks, on this machine or a Ray cluster.

Each video is one Ray generator task (``track_on_ray``): on a cluster it receives the video and the
detector through Ray's object store, in chunks (``CHUNK_BYTES``): this process reads a file a chunk
at a time, and sends no more videos than the cluster can track at once, so neither its memory nor
the object store ever holds every video; on a Ray instance started here the task reads the files
where they are. The task tracks the video exactly as a worker process does (``remote.track_task``)
and streams back what it would write, batch by batch, to this process, the one owner of the persons
folder. A task takes ``--threads`` CPUs (default 1: as many videos at once as the cluster has cores);
the detector stays loaded in a Ray worker process between its tasks. A live source is opened by the
task itself, on whichever node runs it.

Without an address, a Ray instance is started on this machine for the run and stopped after it;
with one (``host:6379``, ``ray://host:10001``) the tasks go to that running cluster, whose nodes need
this project's requirements installed (the ``reid`` package itself is shipped with the tasks).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.cluster import connect, disconnect
from ..core.config import TrackingConfig
from ..core.errors import ReidError, first_line
from .messages import Message, VideoFailed, VideoTask, is_last
from .remote import track_task

log = logging.getLogger(__name__)


CHUNK_BYTES = 8 * 1024 * 1024  # a file crosses to the cluster in pieces of this size


@dataclass(frozen=True)
class FileChunks:
    """A file in Ray's object store, piece by piece (the references stay references inside it)."""

    name: str
    digest: str  # sha256 of the whole file
    parts: list[Any]  # ObjectRefs, in order


def put_in_chunks(path: Path, put: Callable[[bytes], Any], chunk_bytes: int = CHUNK_BYTES) -> FileChunks:
    """``path`` handed to ``put`` (``ray.put``) a chunk at a time: never the whole file in memory."""
    digest, parts = hashlib.sha256(), []
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
            parts.append(put(chunk))
    return FileChunks(Path(path).name, digest.hexdigest(), parts)


class RayPool:
    """Ray generator tasks tracking ``VideoTask``s; ``results`` yields each video's messages."""

    def __init__(self, config: TrackingConfig, address: str, chunk_bytes: int = CHUNK_BYTES) -> None:
        import ray

        self.ray = ray
        self.started_here = connect(address)
        self.threads = config.threads or 1
        self.chunk_bytes = chunk_bytes
        model = Path(config.model)
        # a Ray instance started here for the run reads the files where they are; a cluster gets copies
        self.same_machine = address == ""
        if model.is_file() and self.same_machine:
            config = dataclasses.replace(config, model=str(model.resolve()))  # Ray's workers have another cwd
        self.config = dataclasses.replace(config, threads=self.threads)
        self.model = put_in_chunks(model, ray.put, chunk_bytes) if model.is_file() and not self.same_machine else None
        self.stop_flag = _StopFlag.remote()
        self.running: dict[Any, int] = {}  # ObjectRefGenerator -> the video it tracks
        self.copies: dict[int, FileChunks] = {}  # video -> its copy in the object store, while tracked
        self.waiting: list[VideoTask] = []  # videos for the cluster, until it has a free CPU for them
        cpus = int(ray.cluster_resources().get("CPU", 1)) if not self.same_machine else 0
        self.at_once = max(1, cpus // self.threads)

    def submit(self, task: VideoTask) -> None:
        if task.info is not None and self.same_machine:
            info = dataclasses.replace(task.info, path=task.info.path.resolve(), label=task.info.shown)
            self._start(dataclasses.replace(task, info=info))
        elif task.info is not None:
            self.waiting.append(task)  # copied when the cluster can take it
            self._start_waiting()
        else:
            self._start(task)  # a live source: the task opens it

    def _start_waiting(self) -> None:
        while self.waiting and len(self.copies) < self.at_once:
            task = self.waiting.pop(0)
            self.copies[task.index] = put_in_chunks(task.info.path, self.ray.put, self.chunk_bytes)
            self._start(task, self.copies[task.index])

    def _start(self, task: VideoTask, video: FileChunks | None = None) -> None:
        generator = track_on_ray.options(num_cpus=self.threads).remote(
            task, self.config, self.model, video, self.stop_flag
        )
        self.running[generator] = task.index

    def _ended(self, generator: Any) -> None:
        index = self.running.pop(generator)
        self.copies.pop(index, None)  # its chunks leave the object store
        self._start_waiting()

    def results(self) -> Iterator[tuple[int, list[Message]]]:
        """Every message of every submitted video, as it comes, until each has its last one."""
        ray = self.ray
        while self.running:
            ready, _ = ray.wait(list(self.running), num_returns=1)
            for generator in ready:
                index = self.running[generator]
                try:
                    ops = ray.get(next(generator))
                except StopIteration:  # ended without its last message: it cannot have been tracked
                    self._ended(generator)
                    yield index, [VideoFailed("its Ray task ended without a result")]
                    continue
                except ray.exceptions.RayError as exc:  # the task or its node died
                    self._ended(generator)
                    yield index, [VideoFailed(f"its Ray task failed: {first_line(exc)}")]
                    continue
                if is_last(ops):
                    self._ended(generator)
                yield index, ops

    def stop(self) -> None:
        """End live sources as done; videos go on."""
        self.stop_flag.set.remote()

    def close(self) -> None:
        for generator in self.running:  # left by Ctrl-C or an error: their videos count as interrupted
            try:
                self.ray.cancel(generator, force=True)
            except Exception:  # already finished, or its node is gone
                log.debug("cancelling a Ray task failed", exc_info=True)
        self.running.clear()
        self.copies.clear()
        self.waiting.clear()
        disconnect(self.started_here)


def _remote(function: Any, **options: Any) -> Any:
    import ray

    return ray.remote(**options)(function)


class _StopFlagImpl:
    """Set by the owner to end live sources; asked by the tasks."""

    def __init__(self) -> None:
        self.stopped = False

    def set(self) -> None:
        self.stopped = True

    def is_set(self) -> bool:
        return self.stopped


class _RemoteStop:
    """A ``threading.Event``-like view of the owner's stop flag, for ``remote.track_task``."""

    def __init__(self, flag: Any) -> None:
        self.flag = flag

    def wait(self, timeout: float) -> bool:
        import ray

        try:
            if ray.get(self.flag.is_set.remote(), timeout=timeout + 5):
                return True
        except Exception:  # the owner is gone: nothing will ask this source to stop
            pass
        threading.Event().wait(timeout)
        return False


_trackers: dict[tuple[str, int], Any] = {}  # per Ray worker process: the detector, loaded once


def _track_on_ray(
    task: VideoTask, config: TrackingConfig, model: FileChunks | None, video: FileChunks | None, stop: Any
) -> Iterator[list[Message]]:
    """A Ray generator task: track one video, yielding batches of messages (the last ends the video)."""
    from .detector import PersonTracker

    if model is not None:  # kept for the worker's later tasks: the loaded detector may map the file
        path = Path(tempfile.gettempdir()) / "reid-ray-models" / model.digest[:16] / model.name
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            _fetch(model, path)
        config = dataclasses.replace(config, model=str(path))
    with tempfile.TemporaryDirectory(prefix="reid-ray-") as folder:
        if video is not None:  # the same file name, so that crops are named as in any other run
            copy = Path(folder) / "video" / video.name
            copy.parent.mkdir()
            _fetch(video, copy)
            info = dataclasses.replace(task.info, path=copy, label=task.info.shown)
            task = dataclasses.replace(task, info=info)
        key = (config.model, config.threads, config.detectors)
        try:
            tracker = _trackers.get(key) or _trackers.setdefault(key, PersonTracker(config))
        except ReidError as exc:
            node = os.uname().nodename
            yield [VideoFailed(f"{task.video}: the detector cannot run on the Ray worker on {node}: {exc}")]
            return
        batches: queue.Queue = queue.Queue()
        worker = threading.Thread(
            target=track_task, args=(task, config, tracker, batches.put, _RemoteStop(stop)), daemon=True
        )
        worker.start()
        while True:
            ops = batches.get()
            yield ops
            if is_last(ops):
                break
        worker.join()


def _fetch(chunks: FileChunks, path: Path) -> None:
    """The file ``chunks`` holds, written to ``path`` (atomically) a chunk at a time."""
    import ray

    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(partial, "wb") as handle:
            for part in chunks.parts:
                handle.write(ray.get(part))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


_StopFlag = _remote(_StopFlagImpl, num_cpus=0)
# no retry: a task run again would send its messages again (a failed video is reported and done again
# by the next run, as after any failure)
track_on_ray = _remote(_track_on_ray, max_retries=0)
