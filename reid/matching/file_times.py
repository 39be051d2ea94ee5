"""When each video started, from its own file, where ``--start-times`` does not say: the creation time
an MP4 or QuickTime file records in its movie header (``mvhd``: seconds since 1904-01-01 UTC), which
cameras and phones set as they record. A file written without one records 0, and a file the merge
cannot open (moved since tracking, or a stream) has none: then no video's time is used, since
folders can only be put on one clock when every video is. Some recorders stamp the end of the
recording rather than its start, so the plan says where the times came from, and ``--start-times``
overrides them. Standard library only.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

QUICKTIME_EPOCH = datetime(1904, 1, 1, tzinfo=UTC)
HEADER = 8  # a box starts with its size (4 bytes, big-endian) and its type (4 bytes)


def _boxes(handle: BinaryIO, end: int | None) -> Iterable[tuple[bytes, int, int]]:
    """(type, start of its content, end) of each box from the handle's position to ``end`` (None: the
    end of the file)."""
    while end is None or handle.tell() + HEADER <= end:
        start = handle.tell()
        header = handle.read(HEADER)
        if len(header) < HEADER:
            return
        size, kind = struct.unpack(">I4s", header)
        content = start + HEADER
        if size == 1:  # a 64-bit size follows the type
            large = handle.read(8)
            if len(large) < 8:
                return
            size, content = struct.unpack(">Q", large)[0], content + 8
        elif size == 0:  # the box runs to the end of the file
            size = handle.seek(0, 2) - start
        if size < content - start:
            return  # not a box: not an MP4 file, or a damaged one
        yield kind, content, start + size
        handle.seek(start + size)


def creation_time(path: Path) -> datetime | None:
    """The creation time in ``path``'s movie header, or None (none recorded, or not an MP4/QuickTime
    file); ``OSError`` if the file cannot be read.

    >>> import tempfile
    >>> def box(kind, content):
    ...     return struct.pack(">I4s", HEADER + len(content), kind) + content
    >>> header = box(b"mvhd", bytes(4) + struct.pack(">I", 3_865_000_000) + bytes(92))
    >>> with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
    ...     _ = f.write(box(b"ftyp", b"isom") + box(b"mdat", bytes(100)) + box(b"moov", header)); f.flush()
    ...     creation_time(Path(f.name))
    datetime.datetime(2026, 6, 22, 19, 6, 40, tzinfo=datetime.timezone.utc)
    """
    with path.open("rb") as handle:
        for kind, content, end in _boxes(handle, None):
            if kind != b"moov":
                continue
            handle.seek(content)
            for inner, inner_content, _ in _boxes(handle, end):
                if inner != b"mvhd":
                    continue
                handle.seek(inner_content)
                version = handle.read(4)[:1]  # a version byte, then 3 bytes of flags
                raw = handle.read(8 if version == b"\x01" else 4)
                if len(raw) not in (4, 8) or not version:
                    return None
                seconds = int.from_bytes(raw, "big")
                return QUICKTIME_EPOCH + timedelta(seconds=seconds) if seconds else None
            return None
    return None


def recorded_start_times(videos: Iterable[str], base: Path) -> dict[str, float]:
    """Each video's start in seconds after the earliest (the paths as the folders' tracks give them,
    relative ones from ``base``), when there are two videos or more and every one has a creation
    time; otherwise none.

    >>> recorded_start_times(["/nowhere/c0.mp4", "/nowhere/c1.mp4"], Path("."))
    {}
    """
    distinct = sorted(set(videos))
    if len(distinct) < 2:
        return {}
    found = {}
    for video in distinct:
        path = Path(video) if Path(video).is_absolute() else base / video
        try:
            recorded = creation_time(path)
        except OSError:
            return {}
        if recorded is None:
            return {}
        found[video] = recorded
    origin = min(found.values())
    return {video: (recorded - origin).total_seconds() for video, recorded in found.items()}
