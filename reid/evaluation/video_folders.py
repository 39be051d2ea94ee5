"""Each person folder of a tracked video matched to the ground truth: whom its saved crops show, and
whom all the boxes of its track show (how a box is matched to a person: ``identity.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core.persons import parse_person_id
from ..core.track_metadata import as_box, crops_of, read_track_metadata
from ..matching.folders import Folder
from ..tracking.mot import MotRow
from . import identity as ident


@dataclass
class FolderScore:
    """One person folder: whom its saved crops show, and whom all the boxes of its track show."""

    folder: Folder
    person_id: int
    crop_ids: list[int | None]
    crops: ident.Identity
    boxes: ident.Identity
    span: tuple[int, int]  # first and last frame of its track (from 0)
    by_file: dict[str, int | None] = field(default_factory=dict)  # crop file name -> its GT id


def _xywh(box: Sequence[float]) -> ident.Box:
    x1, y1, x2, y2 = box
    return (x1, y1, x2 - x1, y2 - y1)


def score_folders(folders: Sequence[Folder], gt: list[MotRow], hypotheses: list[MotRow]) -> list[FolderScore]:
    """Each folder's identity from its ``track.json`` crops (crop frame f is GT frame f + 1, boxes
    x1,y1,x2,y2) and from every box of its track in the MOT file (ids = folder numbers)."""
    gt_frames, tracks = ident.by_frame(gt), ident.by_id(hypotheses)
    scored = []
    for folder in folders:
        person_id = parse_person_id(folder.name)
        if person_id is None:
            continue
        metadata = read_track_metadata(folder.path) or {}
        crops = [c for c in crops_of(metadata) if isinstance(c.get("frame"), int) and as_box(c.get("box"))]
        crop_ids = ident.match_boxes(gt_frames, [(c["frame"] + 1, _xywh(c["box"])) for c in crops])
        box_ids = ident.match_boxes(gt_frames, [(r.frame, (r.x, r.y, r.w, r.h)) for r in tracks.get(person_id, [])])
        span = (metadata.get("first_frame", -1), metadata.get("last_frame", -1))
        by_file = {c["file"]: gt_id for c, gt_id in zip(crops, crop_ids, strict=True)}
        crop_identity, box_identity = ident.identity_of(crop_ids), ident.identity_of(box_ids)
        scored.append(FolderScore(folder, person_id, crop_ids, crop_identity, box_identity, span, by_file))
    return scored
