"""The merge stage's plan swept over thresholds on labelled fragments, and scored.

Each fragment becomes a person folder; the merge stage's own code runs on them: the crops are
embedded (``embed_folders``), each camera's mean crop embedding is subtracted when the pipeline
would do it (``normalise_per_camera``), and ``decide_at`` makes the plan (splits, cannot-links,
crop-weighted average linkage) at each threshold. ``python -m reid.evaluation.crops`` reports it;
``calibration`` chooses a threshold from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..matching.camera import Normalisation, normalise_per_camera
from ..matching.decision import decide_at
from ..matching.embedding import Extractor, embed_folders
from ..matching.folders import Folder
from ..matching.splitting import PART_MARK
from .labelled import Fragment
from .scores import Scores, score

REQUIRED_PRECISION = 0.99
OFF = Normalisation(False, "turned off (--no-camera-normalisation)")


@dataclass
class SweepRow:
    threshold: float
    folders_after: int
    scores: Scores
    recall_within_camera: float
    recall_across_cameras: float


@dataclass
class Evaluation:
    fragments: list[Fragment]
    rows: list[SweepRow] = field(default_factory=list)
    default: SweepRow | None = None
    normalisation: Normalisation = OFF

    @property
    def identities(self) -> int:
        return len({f.identity for f in self.fragments})

    def lowest_threshold_with_precision(self, required: float = REQUIRED_PRECISION) -> SweepRow | None:
        """The lowest swept threshold from which on every higher one keeps pairwise precision >= required."""
        return precision_edge(self.rows, required)


def precision_edge(rows: Sequence[SweepRow], required: float = REQUIRED_PRECISION) -> SweepRow | None:
    """The lowest threshold of ``rows`` from which every higher one keeps pairwise precision >= ``required``
    (recall falls as the threshold rises, so this is the highest-recall threshold that keeps it)."""
    found = None
    for row in sorted(rows, key=lambda r: r.threshold, reverse=True):
        if row.scores.pairwise_precision < required:
            break
        found = row
    return found


class MemoryCache:
    """Crop embeddings kept in memory by path, so one network pass serves every cut of the crops."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def key_for(self, path: Path) -> str | None:
        return str(path)

    def get(self, key: str) -> np.ndarray | None:
        return self.vectors.get(key)

    def put(self, key: str, vector: np.ndarray) -> None:
        self.vectors[key] = vector

    def save(self) -> None:
        pass


def pair_recall(truth: Sequence[str], cameras: Sequence[str], predicted: Sequence[int], across: bool) -> float:
    """Recall over the true pairs whose cameras differ (``across``) or match."""
    hits = total = 0
    for i in range(len(truth)):
        for j in range(i + 1, len(truth)):
            if truth[i] == truth[j] and (cameras[i] != cameras[j]) == across:
                total += 1
                hits += predicted[i] == predicted[j]
    return hits / total if total else float("nan")


class Sweep:
    """Fragments made into person folders, embedded and (optionally) camera-normalised as the merge
    stage does it; ``row(t)`` is the plan ``decide_at`` makes at threshold t, scored."""

    def __init__(
        self, fragments: Sequence[Fragment], load_extractor: Callable[[], Extractor], cache, normalise: bool = True
    ) -> None:
        folders = [
            Folder(f"{f.identity}/{f.camera}/{n}", f.images[0].parent, list(f.images), camera=f.camera)
            for n, f in enumerate(fragments)
        ]
        embed_folders(folders, load_extractor, cache)
        kept = [(f, folder) for f, folder in zip(fragments, folders, strict=True) if folder.embedding is not None]
        self.fragments = [f for f, _ in kept]
        self.folders = [folder for _, folder in kept]
        self.normalisation = normalise_per_camera(self.folders) if normalise else OFF
        self.truth = [f.identity for f in self.fragments]
        self.cameras = [f.camera for f in self.fragments]

    def labels(self, threshold: float) -> list[int]:
        """Each folder's group at ``threshold``: the index of its group's first folder (a split-off part
        counts for the folder it came from; crops without frames are never split)."""
        index = {folder.name: n for n, folder in enumerate(self.folders)}
        labels = list(range(len(self.folders)))
        for group in decide_at(self.folders, threshold, self.normalisation).proposals:
            members = [index[f.name.split(PART_MARK)[0]] for f in group.folders]
            for member in members:
                labels[member] = min(members)
        return labels

    def row(self, threshold: float) -> SweepRow:
        predicted = self.labels(threshold)
        return SweepRow(
            threshold,
            len(set(predicted)),
            score(self.truth, predicted),
            pair_recall(self.truth, self.cameras, predicted, across=False),
            pair_recall(self.truth, self.cameras, predicted, across=True),
        )


def evaluate(
    fragments: list[Fragment],
    load_extractor: Callable[[], Extractor],
    thresholds: Sequence[float],
    default_threshold: float | Callable[[bool], float] | None,
    cache=None,
    normalise: bool = True,
) -> Evaluation:
    """Embed and group the fragments exactly as the merge stage does, at each threshold; the default row
    at ``default_threshold`` (a number, or a function of whether the cameras were normalised)."""
    sweep = Sweep(fragments, load_extractor, cache if cache is not None else MemoryCache(), normalise)
    result = Evaluation(sweep.fragments, normalisation=sweep.normalisation)
    result.rows = [sweep.row(float(t)) for t in thresholds]
    if callable(default_threshold):
        default_threshold = default_threshold(sweep.normalisation.applied)
    if default_threshold is not None:
        result.default = sweep.row(float(default_threshold))
    return result


def parse_thresholds(text: str) -> list[float]:
    """``0.5:0.99:0.01`` (start:stop:step, stop included) or ``0.8,0.9``."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if step <= 0:
                raise ValueError
            return [round(x, 6) for x in np.arange(start, stop + step / 2, step)]
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"--thresholds must look like 0.5:0.99:0.01 or 0.8,0.9, not {text!r}") from None
