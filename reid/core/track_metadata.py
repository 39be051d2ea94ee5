"""``track.json``: where a person folder's crops come from, read and written in one place.

A folder made by tracking holds one track: the fields of ``TrackRecord.to_metadata`` (video,
run, frames, boxes, ``complete``) and ``crops``, one entry per crop file (its frame and box).
A merged folder lists its tracks under ``tracks`` (a split part's track cut to its own crops)
and every crop it holds under ``crops``. Every stage reads the document through these functions,
so a document that is old, partial or hand-edited is interpreted the same way everywhere:
what cannot be read is left out, never guessed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .files import atomic_write_json

log = logging.getLogger(__name__)

METADATA_FILENAME = "track.json"
METADATA_SCHEMA = 1
# A merged folder's own fields, not those of a track.
_FOLDER_FIELDS = ("crops", "schema", "merged_from", "split", "split_off", "split_from")

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
Metadata = dict[str, Any]


def write_track_metadata(folder: Path, metadata: Metadata) -> None:
    """Write ``track.json`` atomically. See ``TrackRecord.to_metadata`` for the fields."""
    atomic_write_json(Path(folder) / METADATA_FILENAME, {"schema": METADATA_SCHEMA, **metadata})


def read_track_metadata(folder: Path) -> Metadata | None:
    """The folder's ``track.json``, or None when it has none or it is unreadable (logged)."""
    path = Path(folder) / METADATA_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None
    if not isinstance(data, dict):
        log.warning("ignoring %s: not a JSON object", path)
        return None
    return data


def is_merged(metadata: Metadata | None) -> bool:
    return bool(metadata) and isinstance(metadata.get("tracks"), list)


def tracks_of(metadata: Metadata | None) -> list[Metadata]:
    """The tracks the document describes: a merged folder's ``tracks``, or the folder's own track.

    >>> tracks_of({"run_id": "r", "crops": [], "schema": 1})
    [{'run_id': 'r'}]
    >>> tracks_of({"tracks": [{"run_id": "a"}, "junk"], "crops": []})
    [{'run_id': 'a'}]
    >>> tracks_of(None)
    []
    """
    if not metadata:
        return []
    if is_merged(metadata):
        return [t for t in metadata["tracks"] if isinstance(t, dict)]
    return [{k: v for k, v in metadata.items() if k not in _FOLDER_FIELDS}]


def crops_of(metadata: Metadata | None) -> list[Metadata]:
    """The crop entries that name a file."""
    crops = (metadata or {}).get("crops")
    return (
        [c for c in crops if isinstance(c, dict) and isinstance(c.get("file"), str)] if isinstance(crops, list) else []
    )


def crop_frames(metadata: Metadata | None) -> dict[str, int]:
    """Each listed crop's frame, by file name (a folder's crops come from one video, or, once
    merged, several: frames are then only comparable within one source)."""
    return {c["file"]: c["frame"] for c in crops_of(metadata) if _is_int(c.get("frame"))}


def crop_boxes(metadata: Metadata | None) -> dict[str, Box]:
    """Each listed crop's box, by file name, where it has a valid one."""
    boxes = {c["file"]: as_box(c.get("box")) for c in crops_of(metadata)}
    return {name: box for name, box in boxes.items() if box is not None}


def crop_videos(metadata: Metadata | None) -> dict[str, str]:
    """The video each listed crop was cut from, by file name. A tracked folder's crops all come from
    its track's video. A merged folder's crops name the folder they came from (``source_folder``),
    whose crops come from the track with that folder's person id; a split part's folder has a number
    of its own, and its crops come from a track of no other source folder (its track was cut to
    their frames) whose segments hold all their frames. Crops that no track tells, or tracks of two
    videos, are left out.

    >>> merged = {"tracks": [{"person_id": 4, "video": "/a.mp4", "segments": [[0, 9]]},
    ...                      {"person_id": 4, "video": "/b.mp4", "segments": [[5, 20]]}],
    ...           "crops": [{"file": "a.jpg", "frame": 7, "source_folder": "id_4"},
    ...                     {"file": "b.jpg", "frame": 15, "source_folder": "id_12"},
    ...                     {"file": "c.jpg", "frame": 7, "source_folder": "id_13"}]}
    >>> crop_videos(merged)  # id_4's tracks are of two videos; c.jpg's frame is in both
    {'b.jpg': '/b.mp4'}
    """
    tracks = [t for t in tracks_of(metadata) if isinstance(t.get("video"), str)]
    videos = {t["video"] for t in tracks}
    crops = crops_of(metadata)
    if len(videos) == 1:
        return dict.fromkeys((c["file"] for c in crops), videos.pop())
    sources: dict[Any, list[Metadata]] = {}
    for crop in crops:  # crops without a source folder are told one by one
        source = crop.get("source_folder")
        sources.setdefault(source if isinstance(source, str) else id(crop), []).append(crop)
    named = [(t, f"id_{t['person_id']}") for t in tracks if _is_int(t.get("person_id"))]
    unclaimed = [t for t, name in named if name not in sources] + [t for t in tracks if not _is_int(t.get("person_id"))]
    found = {}
    for source, group in sources.items():
        frames = [c["frame"] for c in group if _is_int(c.get("frame"))]
        candidates = {t["video"] for t, name in named if name == source}
        for pool in (unclaimed, tracks):
            if not candidates and frames:
                candidates = {t["video"] for t in pool if all(_holds(t.get("segments"), f) for f in frames)}
        if len(candidates) == 1:
            found.update(dict.fromkeys((c["file"] for c in group), candidates.pop()))
    return found


def _holds(segments: Any, frame: int) -> bool:
    try:
        return any(int(a) <= frame <= int(b) for a, b in segments)
    except (TypeError, ValueError):
        return False


def as_box(value: Any) -> Box | None:
    """A box of four numbers with a positive width and height, else None.

    >>> as_box([1, 2, 11, 22]), as_box([5, 5, 5, 9]), as_box("x"), as_box(None)
    ((1.0, 2.0, 11.0, 22.0), None, None, None)
    """
    try:
        x1, y1, x2, y2 = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def positive_number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def is_unfinished(metadata: Metadata | None) -> bool:
    """Whether a folder's ``track.json`` says its tracking run has not finished it (still running,
    or killed): ``complete`` false. A merged folder's and a legacy folder's (none) are finished.

    >>> is_unfinished({"complete": False}), is_unfinished({"complete": True}), is_unfinished(None)
    (True, False, False)
    """
    return metadata is not None and not is_merged(metadata) and metadata.get("complete") is False


def video_fingerprints(metadata: Metadata | None) -> set[str]:
    """The fingerprints of the videos the folder's tracks come from."""
    return {t["video_fingerprint"] for t in tracks_of(metadata) if isinstance(t.get("video_fingerprint"), str)}


def track_person_ids(metadata: Metadata | None) -> list[int]:
    """The person ids its tracks had when tracking made their folders (a merged folder's several)."""
    return [t["person_id"] for t in tracks_of(metadata) if _is_int(t.get("person_id"))]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
