"""Choosing a backbone's default merge threshold honestly: on half of the identities, reported on the other.

The rule, fixed before any held-out half was scored:

1. The *precision edge* on the choosing half: the lowest threshold from which every higher one keeps
   pairwise precision >= 0.99 (recall falls as the threshold rises, so it is the highest-recall
   threshold that keeps the precision).
2. From there, raise the threshold while the choosing half keeps pairwise recall >= 0.80 (the target
   0.70 plus a margin of 0.10): the chosen threshold is the highest one with recall >= 0.80 on the
   choosing half, and never below the edge. When no threshold at or above the edge has that recall,
   the edge itself is chosen.
3. A threshold at which nothing merges on the choosing half is never called calibrated.

Why the margin: with about 30 identities, precision >= 0.99 means *no* pair of different people
merged, because one wrong merge of two 4-folder identities adds 16 false pairs to about 190 true ones
(precision ~0.92). The edge therefore sits just above the most similar pair of different people in
the choosing half, and the other half has its own look-alike pair, about as likely above it as below
it: a threshold at the edge fails the held-out precision about half of the time. Recall is an average
over all true pairs and transfers from half to half within a few points. So the slack in recall above
the target is spent on precision: raising the threshold until the choosing half's recall is down to
the target plus a margin moves it away from the look-alikes at a known cost in recall. 0.10 is about
two standard deviations of the recall difference between halves of 31 identities (one identity's
pairs are ~3% of the recall, and the halves differ by a few identities' worth).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..matching.camera import Normalisation
from ..matching.embedding import Extractor
from .labelled import Labelled, cut
from .sweep import REQUIRED_PRECISION, Sweep, SweepRow, precision_edge

TARGET_RECALL = 0.70
RECALL_MARGIN = 0.10
# Folder sizes checked at the chosen threshold; "mixed" cuts each camera's crops at random places.
SIZES: tuple[int | str, ...] = (1, 2, 4, 8, "mixed")


@dataclass(frozen=True)
class Choice:
    """The threshold the rule chose on one half, and why."""

    row: SweepRow | None  # the choosing half's row at the chosen threshold; None: no threshold keeps the precision
    edge: SweepRow | None
    by: str  # "precision edge", "recall margin", or "none"

    @property
    def threshold(self) -> float | None:
        return None if self.row is None else self.row.threshold

    @property
    def calibrated(self) -> bool:
        """It merges something on the choosing half (a threshold where nothing merges is not calibrated)."""
        return self.row is not None and self.row.scores.pairwise_recall > 0


def choose(rows: Sequence[SweepRow], margin: float = RECALL_MARGIN) -> Choice:
    """The rule of the module docstring over one half's sweep.

    >>> from reid.evaluation.scores import Scores
    >>> rows = [SweepRow(t, 0, Scores(p, r, 1, 1), 0, 0) for t, p, r in
    ...         [(0.2, 0.9, 0.95), (0.3, 1.0, 0.9), (0.4, 1.0, 0.8), (0.5, 1.0, 0.6), (0.6, 1.0, 0.0)]]
    >>> choice = choose(rows); choice.edge.threshold, choice.threshold, choice.by
    (0.3, 0.4, 'recall margin')
    """
    edge = precision_edge(rows, REQUIRED_PRECISION)
    if edge is None:
        return Choice(None, None, "none")
    wanted = TARGET_RECALL + margin
    above = [r for r in rows if r.threshold > edge.threshold and r.scores.pairwise_recall >= wanted]
    if not above:
        return Choice(edge, edge, "precision edge")
    return Choice(max(above, key=lambda r: r.threshold), edge, "recall margin")


def halves(identities: Sequence[str], seed: int) -> tuple[list[str], list[str]]:
    """The identities split at random (``seed``) into two halves, each sorted; the first has the smaller half."""
    order = np.random.default_rng(seed).permutation(sorted(identities)).tolist()
    middle = len(order) // 2
    return sorted(order[:middle]), sorted(order[middle:])


@dataclass
class SizeRow:
    size: int | str
    folders: int
    normalisation: Normalisation
    row: SweepRow


@dataclass
class HeldOut:
    """One held-out evaluation: chosen on one half, reported on the other (at every folder size too)."""

    seed: int
    direction: str  # "A -> B" or "B -> A"
    identities: tuple[int, int]  # on the choosing half, on the reporting half
    choice: Choice
    chosen_on: Normalisation
    reported: SweepRow | None
    reported_on: Normalisation
    sizes: list[SizeRow] = field(default_factory=list)

    @property
    def met(self) -> bool:
        """The issue's target at the chosen threshold on the held-out half: precision >= 0.99, recall >= 0.70."""
        return self.choice.calibrated and meets(self.reported)


def meets(row: SweepRow | None) -> bool:
    return (
        row is not None
        and row.scores.pairwise_precision >= REQUIRED_PRECISION
        and row.scores.pairwise_recall >= TARGET_RECALL
    )


@dataclass
class HoldOutResult:
    fragment_size: int
    normalise: bool
    runs: list[HeldOut] = field(default_factory=list)
    largest: int = 0  # crops of the largest (identity, camera): the largest folder size possible

    @property
    def default(self) -> float | None:
        """The default to set: the median of the rule's choices (each made on one half only), rounded to 0.01;
        None when no half has a threshold that keeps the precision. Its quality: the held-out results."""
        chosen = [r.choice.threshold for r in self.runs if r.choice.threshold is not None]
        return round(float(np.median(chosen)), 2) if chosen else None

    @property
    def calibrated(self) -> int:
        """How many of the choices merge something on their choosing half."""
        return sum(r.choice.calibrated for r in self.runs)


def hold_out(
    labelled: Labelled,
    load_extractor: Callable[[], Extractor],
    cache,
    thresholds: Sequence[float],
    seeds: Sequence[int],
    size: int,
    normalise: bool = True,
) -> HoldOutResult:
    """For each seed, choose on half A and report on half B, then the other way round, at ``size`` crops
    per folder and at every folder size of ``SIZES``."""
    result = HoldOutResult(size, normalise)
    result.largest = max(len(images) for cameras in labelled.values() for images in cameras.values())

    def sweep(identities: list[str], cut_size: int | str, seed: int) -> Sweep:
        return Sweep(cut(labelled, cut_size, identities, seed), load_extractor, cache, normalise)

    for seed in seeds:
        a, b = halves(list(labelled), seed)
        for direction, (choosing, reporting) in (("A -> B", (a, b)), ("B -> A", (b, a))):
            chooser = sweep(choosing, size, seed)
            choice = choose([chooser.row(float(t)) for t in thresholds])
            reporter = sweep(reporting, size, seed)
            sides = (len(choosing), len(reporting))
            run = HeldOut(seed, direction, sides, choice, chooser.normalisation, None, reporter.normalisation)
            if choice.threshold is not None:
                run.reported = reporter.row(choice.threshold)
                for cut_size in SIZES:
                    other = reporter if cut_size == size else sweep(reporting, cut_size, seed)
                    row = other.row(choice.threshold)
                    run.sizes.append(SizeRow(cut_size, len(other.folders), other.normalisation, row))
            result.runs.append(run)
    return result
