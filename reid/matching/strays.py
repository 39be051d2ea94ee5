"""A track's first or last crop that shows the person beside it (pure functions).

Where two people overlap, a tracker often starts a track on the box of the wrong one, or lets a
track's last box slide onto the person in front before it loses it: the folder then holds one crop
of someone else at its start or end. Cut off alone it would count as one more person, and left in
place it mixes two people (on Terrace, 37 of the 236 first and last crops of tracks with three
crops or more showed another person than the rest of their track; on TUD 1 of 22, Venice 3 of 88).

So such a crop is *handed over*: when it looks unlike the rest of its track (under the splitter's
level) and like a folder whose track was there, next to it, at that moment (the merge threshold,
on the same scale as two folders' mean similarity), it becomes a part of its own that the plan
puts with that folder. The other track being there is what makes it safe: the crop's box then sat
on the other person's, so the two are one person boxed twice, not two people seen together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .folders import Folder
from .motion import JITTER, WALK_SPEED, feet_distance

# How far in time the other track's nearest known box may be from the stray crop's frame.
NEAR_S = 1.0
# Crops the rest of the track needs: fewer say too little about what "the rest" looks like.
MIN_REST = 3


@dataclass(frozen=True)
class Handover:
    """The crop at ``frame`` shows ``owner``'s person."""

    frame: int
    owner: str
    own: float  # the crop's mean similarity to the rest of its track
    owner_similarity: float  # ... and to the owner's crops

    def describe(self) -> str:
        return (
            f"the crop at frame {self.frame} looks like {self.owner}, whose track was beside it then "
            f"(similarity {self.owner_similarity:.2f}, against {self.own:.2f} to the rest of its own track), "
            f"and goes to it"
        )


def stray_end(
    folder: Folder, run: Sequence[int], end: int, level: float, threshold: float, others: Sequence[Folder]
) -> Handover | None:
    """Whether the crop at ``run[end]`` (``end`` 0 or -1; ``run``: rows of ``folder.vectors`` in frame
    order) is another person's: unlike the rest of ``run`` (under ``level``) and as alike as
    ``threshold`` to one of ``others`` (embedded) seen next to it within ``NEAR_S``; that one, the most alike."""
    if len(run) < MIN_REST + 1 or folder.vectors is None:
        return None
    row = run[end]
    rest = [k for k in run if k != row]
    crop = folder.vectors[row]
    own = float(crop @ folder.vectors[rest].mean(axis=0))
    if own >= level:
        return None
    name = folder.images[row].name
    frame, box = folder.frames[name], folder.boxes.get(name)
    if box is None:
        return None
    fps = folder.appearances[0].fps or 25.0
    best: tuple[float, str] | None = None
    for other in others:
        if other is folder or not _beside(other, frame, box, fps):
            continue
        similarity = float(crop @ other.embedding)
        if similarity >= threshold and (best is None or similarity > best[0]):
            best = (similarity, other.name)
    if best is None:
        return None
    return Handover(frame, best[1], round(own, 3), round(best[0], 3))


def _beside(other: Folder, frame: int, box: Sequence[float], fps: float) -> bool:
    """Whether ``other``'s track (one track) had a known box within ``NEAR_S`` of ``frame``, close
    enough to ``box`` for a person to have walked between them."""
    if len(other.appearances) != 1:
        return False
    track = other.appearances[0]
    known = [(other.frames[n], b) for n, b in other.boxes.items() if n in other.frames]
    known += [(track.first, track.first_box), (track.last, track.last_box)]
    for seen, seen_box in known:
        seconds = abs(seen - frame) / fps
        if seen_box is not None and seconds <= NEAR_S and feet_distance(box, seen_box) <= JITTER + WALK_SPEED * seconds:
            return True
    return False


def by_video(folders: Sequence[Folder]) -> dict[tuple[str, str], list[Folder]]:
    """The one-track ``folders`` with an embedding, by (tracking run, video)."""
    found: dict[tuple[str, str], list[Folder]] = {}
    for folder in folders:
        if len(folder.appearances) == 1 and folder.embedding is not None:
            track = folder.appearances[0]
            found.setdefault((track.run_id, track.video), []).append(folder)
    return found
