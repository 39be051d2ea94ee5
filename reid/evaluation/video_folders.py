"""Each person folder of the tracked videos matched to the ground truth: whom its saved crops show,
and whom all the boxes of its tracks show (how a box is matched to a person: ``identity.py``; the
videos as one timeline: ``timeline.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core.persons import parse_person_id
from ..core.track_metadata import as_box, crop_videos, crops_of, read_track_metadata, track_person_ids
from ..matching.folders import Folder
from . import identity as ident
from .timeline import Timeline


@dataclass
class FolderScore:
    """One person folder: whom its saved crops show, and whom all the boxes of its tracks show."""

    folder: Folder
    person_id: int
    crop_ids: list[int | None]
    crops: ident.Identity
    boxes: ident.Identity
    span: tuple[int, int]  # first and last frame of its track (from 0, in its own video)
    by_file: dict[str, int | None] = field(default_factory=dict)  # crop file name -> its GT id
    offset: int = 0  # where its (first) track's video begins on the timeline
    video: str = ""  # that video's name


def _xywh(box: Sequence[float]) -> ident.Box:
    x1, y1, x2, y2 = box
    return (x1, y1, x2 - x1, y2 - y1)


def score_folders(folders: Sequence[Folder], timeline: Timeline) -> list[FolderScore]:
    """Each folder's identity from its ``track.json`` crops, each matched to its own video's GT (crop
    frame f is GT frame f + 1, boxes x1,y1,x2,y2), and from every box of its tracks in the MOT
    files (ids = folder numbers). Crops of videos not on the timeline are not scored."""
    gt_frames, tracks = ident.by_frame(timeline.gt), ident.by_id(timeline.hypotheses)
    names = {c.video: c.name for c in timeline.clips}
    scored = []
    for folder in folders:
        person_id = parse_person_id(folder.name)
        if person_id is None:
            continue
        metadata = read_track_metadata(folder.path) or {}
        videos = crop_videos(metadata)
        crops = [
            (c, timeline.offset_of(videos.get(c["file"], "")))
            for c in crops_of(metadata)
            if isinstance(c.get("frame"), int) and as_box(c.get("box"))
        ]
        crops = [(c, offset) for c, offset in crops if offset is not None]
        crop_ids = ident.match_boxes(gt_frames, [(offset + c["frame"] + 1, _xywh(c["box"])) for c, offset in crops])
        rows = [
            r for track_id in dict.fromkeys(track_person_ids(metadata) or [person_id]) for r in tracks.get(track_id, [])
        ]
        box_ids = ident.match_boxes(gt_frames, [(r.frame, (r.x, r.y, r.w, r.h)) for r in rows])
        span = (metadata.get("first_frame", -1), metadata.get("last_frame", -1))
        by_file = {c["file"]: gt_id for (c, _), gt_id in zip(crops, crop_ids, strict=True)}
        offset = timeline.offset_of(folder.camera)
        score = FolderScore(folder, person_id, crop_ids, ident.identity_of(crop_ids), ident.identity_of(box_ids), span)
        score.by_file, score.offset, score.video = by_file, offset or 0, names.get(folder.camera, "")
        scored.append(score)
    return scored
