"""The re-identification stage up to the merge plan: folders -> embeddings -> proposed groups.

The feature extractor is passed in (``features.FeatureExtractor`` or anything with
``cache_key``, ``dimension`` and ``embed_files``), so this module does not import TensorFlow.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .embedding_cache import EmbeddingCache
from .errors import InputError
from .grouping import (Appearance, candidate_pairs, cannot_link_pairs, choose_survivor, folder_embedding,
                       group_folders, group_similarity)
from .persons import list_images, list_person_folders, parse_person_id, read_track_metadata

log = logging.getLogger(__name__)


class Extractor(Protocol):

    def embed_files(self, paths: Sequence[Path], on_batch: Callable[[int], None] | None = None
                    ) -> tuple[np.ndarray, dict[Path, str]]: ...


@dataclass
class Folder:
    name: str
    path: Path
    images: list[Path]
    appearances: list[Appearance] = field(default_factory=list)
    embedding: np.ndarray | None = None

    @property
    def sort_id(self) -> float:
        person_id = parse_person_id(self.name)
        return math.inf if person_id is None else person_id


@dataclass
class ProposedGroup:
    survivor: Folder
    members: list[Folder]
    min_similarity: float
    mean_similarity: float

    @property
    def folders(self) -> list[Folder]:
        return [self.survivor, *self.members]


def appearances_of(metadata: dict[str, Any] | None) -> list[Appearance]:
    """The tracks recorded in a folder's ``track.json``: one for a tracked folder, several once merged."""
    if not metadata:
        return []
    tracks = metadata.get("tracks") if isinstance(metadata.get("tracks"), list) else [metadata]
    found = []
    for track in tracks:
        try:
            segments = tuple((int(a), int(b)) for a, b in track["segments"])
            run_id, video = str(track["run_id"]), str(track["video"])
        except (KeyError, TypeError, ValueError):
            continue  # legacy or foreign metadata: no constraint from this track
        if segments:
            found.append(Appearance(run_id, video, tuple(sorted(segments))))
    return found


def scan_folders(persons_dir: Path) -> list[Folder]:
    """Every person folder with its images and tracks. ``InputError`` if the folder is missing."""
    persons_dir = Path(persons_dir)
    if not persons_dir.is_dir():
        raise InputError(f"persons folder {persons_dir} does not exist: run obj_counting.py first")
    folders = []
    for path in list_person_folders(persons_dir):
        try:
            images = list_images(path)
        except OSError as exc:
            log.warning("skipping %s: %s", path, exc.strerror or exc)
            continue
        folders.append(Folder(path.name, path, images, appearances_of(read_track_metadata(path))))
    return folders


def embed_folders(folders: Sequence[Folder], load_extractor: Callable[[], Extractor], cache: EmbeddingCache,
                  progress: Callable[[int, str], None] | None = None) -> dict[Path, str]:
    """Set each folder's embedding (the normalised mean of its crops'); returns unreadable images.

    Cached crops are not decoded (and unchanged ones not even read); the extractor is loaded (``load_extractor()``, which
    costs seconds) only when some crop is not in the cache, and embeds the rest in batches.
    """
    vectors: dict[Path, np.ndarray] = {}
    missing: list[tuple[Path, str | None]] = []
    for folder in folders:
        for image in folder.images:
            key = cache.key_for(image)
            cached = cache.get(key) if key else None
            if cached is not None:
                vectors[image] = cached
            else:
                missing.append((image, key))
    errors: dict[Path, str] = {}
    if missing:
        done = [0]

        def on_batch(count: int) -> None:
            done[0] += count
            if progress:
                progress(len(vectors) + done[0], missing[min(done[0], len(missing)) - 1][0].parent.name)

        paths = [image for image, _ in missing]
        embedded, errors = load_extractor().embed_files(paths, on_batch)
        readable = [(image, key) for image, key in missing if image not in errors]
        for (image, key), vector in zip(readable, embedded):
            vectors[image] = vector
            if key:
                cache.put(key, vector)
    elif progress:
        progress(len(vectors), folders[-1].name if folders else "")
    cache.save()
    for folder in folders:
        rows = [vectors[i] for i in folder.images if i in vectors]
        folder.embedding = folder_embedding(np.stack(rows)) if rows else None
    return errors


def propose_groups(folders: Sequence[Folder], threshold: float) -> list[ProposedGroup]:
    """Groups of folders that show the same person (folders without an embedding are left out)."""
    usable = [f for f in folders if f.embedding is not None]
    if len(usable) < 2:
        return []
    embeddings = np.stack([f.embedding for f in usable])
    cannot = cannot_link_pairs([f.appearances for f in usable])
    proposals = []
    counts = [len(f.images) for f in usable]
    ids = [(f.sort_id, f.name) for f in usable]
    for group in group_folders(embeddings, threshold, cannot):
        survivor = choose_survivor(group, counts, ids)
        low, mean = group_similarity(embeddings, group)
        members = sorted((usable[i] for i in group if i != survivor), key=lambda f: (f.sort_id, f.name))
        proposals.append(ProposedGroup(usable[survivor], members, low, mean))
    return proposals


@dataclass
class NearMiss:
    """Two folders that scored close to (or above) the threshold but are not proposed together."""

    first: Folder
    second: Folder
    similarity: float
    reason: str


def near_misses(folders: Sequence[Folder], proposals: Sequence[ProposedGroup], threshold: float,
                margin: float = 0.05, limit: int = 20) -> list[NearMiss]:
    """The most similar pairs of folders that will not be merged together, most similar first:
    pairs just under the threshold, and pairs over it kept apart (seen at the same time, or
    closer to each other than to the rest of a group)."""
    usable = [f for f in folders if f.embedding is not None]
    if len(usable) < 2:
        return []
    group_of = {f.name: number for number, group in enumerate(proposals) for f in group.folders}
    cannot = cannot_link_pairs([f.appearances for f in usable])
    rows, cols, sims = candidate_pairs(np.stack([f.embedding for f in usable]), threshold - margin)
    misses = []
    for i, j, similarity in zip(rows.tolist(), cols.tolist(), sims.tolist()):
        a, b = usable[i], usable[j]
        if a.name in group_of and group_of[a.name] == group_of.get(b.name):
            continue
        reason = ("seen at the same time in one video" if (i, j) in cannot
                  else "under the threshold" if similarity < threshold
                  else "over the threshold, but not with the rest of a group")
        misses.append(NearMiss(a, b, similarity, reason))
    misses.sort(key=lambda m: (-m.similarity, m.first.name, m.second.name))
    return misses[:limit]
