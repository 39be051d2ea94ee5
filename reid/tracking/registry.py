"""Which videos a persons folder already holds, known by content, so that running the tracking
stage again on a video it has done does not count the same people twice.

``persons/.videos.json`` maps each video's fingerprint (a digest of its size and of samples of
its bytes, so a renamed or copied file is still recognised, and hashing hours of footage takes
milliseconds) to what became of it: the run, the state (``running``, ``done``, ``failed``) and
the process that holds it while running. A video found ``done`` is skipped unless
``--reprocess``; one left ``running`` by a process that has died was interrupted, and its
partial folders are replaced when it is processed again. Replaced folders are never deleted:
they move to ``backup_before_merge/<timestamp>-replaced/``, and their ids are never reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.cli import plural
from ..core.config import BACKUP_DIRNAME
from ..core.errors import InputError, OutputError
from ..core.files import atomic_write_json, fsync_dir, locked
from ..core.lease import holders
from ..core.persons import list_person_folders
from ..core.status import utc_now_iso
from ..core.track_metadata import is_unfinished, read_track_metadata, video_fingerprints

log = logging.getLogger(__name__)

REGISTRY_FILENAME = ".videos.json"
SAMPLE_BYTES = 64 * 1024
SAMPLES = 16


def fingerprint(path: Path) -> str:
    """A digest of the file's size and of ``SAMPLES`` evenly spaced blocks of its bytes (the first
    and the last included): equal for copies of a video, different for different videos."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as handle:
        for k in range(SAMPLES):
            handle.seek(max(0, (size - SAMPLE_BYTES) * k // (SAMPLES - 1)))
            digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()


class VideoRegistry:
    """The record of the videos done in one persons folder (read and written under a lock)."""

    def __init__(self, persons_dir: Path) -> None:
        self.persons_dir = Path(persons_dir)
        self.path = self.persons_dir / REGISTRY_FILENAME
        self.lock_path = self.persons_dir / ".videos.lock"

    def get(self, video_fingerprint: str) -> dict[str, Any] | None:
        return self._read().get(video_fingerprint)

    def entries(self) -> dict[str, Any]:
        return self._read()

    def record(self, video_fingerprint: str, **fields: Any) -> None:
        """Update one video's entry (``state``, ``run_id``, ...)."""
        try:
            with locked(self.lock_path):
                entries = self._read()
                entries[video_fingerprint] = {
                    **entries.get(video_fingerprint, {}),
                    **fields,
                    "updated_at": utc_now_iso(),
                }
                atomic_write_json(self.path, entries)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s (%s): videos done before may be processed again", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}


def still_running(entry: dict[str, Any], persons_dir: Path) -> bool:
    """Whether the run that left ``entry`` running is alive: another process that holds the
    folder's lease for tracking (this process runs one video at a time, so not this one)."""
    pid = entry.get("pid")
    return (
        entry.get("state") == "running"
        and pid != os.getpid()
        and any(h.pid == pid and h.action == "tracking" for h in holders(persons_dir))
    )


def covers(entry: dict[str, Any], max_frames: int) -> bool:
    """Whether a finished entry covers what a run limited to ``max_frames`` (0: all) would do."""
    if entry.get("state") != "done":
        return False
    return bool(entry.get("complete")) or (max_frames > 0 and int(entry.get("frames") or 0) >= max_frames)


def folders_holding(persons_dir: Path, video_fingerprint: str) -> list[Path]:
    """The person folders that hold tracks of this video now (after merges: the folders its people
    are in, which may hold other videos' tracks too)."""
    return [
        f for f in list_person_folders(persons_dir) if video_fingerprint in video_fingerprints(read_track_metadata(f))
    ]


def folders_of(persons_dir: Path, video_fingerprint: str) -> list[Path]:
    """The person folders made from this video. ``InputError`` when one of them was merged with
    folders of other videos: replacing it would take those persons' crops too."""
    found = []
    for folder in list_person_folders(persons_dir):
        sources = video_fingerprints(read_track_metadata(folder))
        if video_fingerprint not in sources:
            continue
        if len(sources) > 1:
            raise InputError(
                f"{folder.name} holds tracks of this video merged with other folders, so it cannot be replaced: "
                f"undo that merge first (deeplearningg_reID.py --undo) or move {folder.name} away"
            )
        found.append(folder)
    return found


def set_aside(persons_dir: Path, folders: list[Path]) -> Path | None:
    """Move ``folders`` into a new ``backup_before_merge/<timestamp>-replaced/``; returns it."""
    if not folders:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = Path(persons_dir) / BACKUP_DIRNAME / f"{stamp}-replaced"
    try:
        target.mkdir(parents=True)
        for folder in folders:
            os.rename(folder, target / folder.name)
        fsync_dir(target)
        fsync_dir(Path(persons_dir))
    except OSError as exc:
        raise OutputError(f"cannot move the earlier folders into {target}: {exc.strerror or exc}") from None
    log.info("moved %s of a reprocessed video into %s", plural(len(folders), "earlier folder"), target)
    return target


def left_unfinished(persons_dir: Path, tracked: set[str]) -> list[Path]:
    """Person folders that a tracking run began and never finished (it was killed) and no run is
    tracking now, other than those of the videos ``tracked`` (fingerprints) by this run: they hold
    a partial track, which tracking their video again replaces."""
    entries = VideoRegistry(persons_dir).entries()
    found = []
    for folder in list_person_folders(persons_dir):
        metadata = read_track_metadata(folder)
        if not is_unfinished(metadata) or metadata.get("video_fingerprint") in tracked:
            continue
        entry = entries.get(metadata.get("video_fingerprint"))
        if entry is None or not still_running(entry, persons_dir):
            found.append(folder)
    return found
