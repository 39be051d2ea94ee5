"""Each camera's threshold learned from the person's answers (pure numpy).

The footage alone knows only pairs of different people (folders seen in the same frames,
``threshold.py``). The answers add labelled pairs from the same cameras, with the similarity each
had when it was asked (``answers.Measured``): pairs said to be two people and pairs said to be one.
For each camera:

1. It starts where the footage alone puts it (``threshold.camera_threshold``: where ``EXPECTED_WRONG``
   of the pairs it compares are expected to be two people over it; with fewer than ``MIN_PAIRS``
   pairs seen together, the backbone's default).
2. From there it comes down to the answered same-person pairs under it, one after the other, most
   similar first, as long as no pair said to be two people lies between: the person has shown that
   these similarities are one person's, and nothing that they are not. But not below where the
   footage expects ``TAUGHT_WRONG`` pairs of two people over it among the pairs it compares: the
   person answered a few pairs there, not the many others the next plan would merge.

A pair said to be two people over the threshold does not raise it: the plan already keeps that pair
apart, and counting such pairs with the seen-together ones (the threshold then reached by at most
1% of both, as the footage's own was chosen then) left Venice-2 with 45 folders after 30 simulated
answers instead of 42, with no fewer wrong merges, and Terrace no better (BENCHMARKS.md, "Answers teach the merge").

A pair of folders from two cameras teaches both. The run takes the highest camera's, as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.cli import plural
from ..core.paths import shown_path
from .answers import Answers
from .threshold import (
    EXPECTED_WRONG,
    MIN_PAIRS,
    ThresholdChoice,
    camera_threshold,
    choose_threshold,
    compared_pairs,
)

# Pairs of two people expected over a threshold that answers taught, of all the pairs a camera compares:
# its floor. With no floor, Terrace's next plan after 30 simulated answers, accepted as it is, joined two
# people 3 times (4 with the plan made again after each answer; BENCHMARKS.md, "Answers teach the merge").
TAUGHT_WRONG = 1.0


@dataclass(frozen=True)
class Labelled:
    """An answered pair: its similarity when it was asked, and whether the person said it is one person."""

    similarity: float
    same: bool


def answered_by_camera(answers: Answers) -> dict[str, list[Labelled]]:
    """Each camera's answered pairs that have a similarity (a pair of two cameras counts for both).

    >>> from .answers import Measured
    >>> a, b, c = (frozenset({(r, "v", 0, 1)}) for r in "abc")
    >>> answers = Answers(apart=[(a, b)], together=[(a, c)])
    >>> answers.measured = {(a, b): Measured(0.4, ("v1", "v2")), (a, c): Measured(0.3, ("v1", "v1"))}
    >>> answered_by_camera(answers)
    {'v1': [Labelled(similarity=0.4, same=False), Labelled(similarity=0.3, same=True)], \
'v2': [Labelled(similarity=0.4, same=False)]}
    """
    found: dict[str, list[Labelled]] = defaultdict(list)
    for pairs, same in ((answers.apart, False), (answers.together, True)):
        for pair in pairs:
            measured = answers.measured.get(pair)
            if measured is not None:
                for camera in dict.fromkeys(measured.cameras):
                    found[camera].append(Labelled(measured.similarity, same))
    return dict(found)


def fit_threshold(
    seen_together: np.ndarray,
    answered: Sequence[Labelled],
    default: float,
    compared: int = 0,
    expected: float = EXPECTED_WRONG,
    min_pairs: int = MIN_PAIRS,
) -> float:
    """One camera's threshold from its pairs seen together, the pairs of folders it ``compared`` (at least
    those) and its answered pairs (module docstring).

    >>> seen = np.random.default_rng(0).normal(0.0, 0.1, 100)
    >>> round(fit_threshold(seen, [], 0.6, compared=1000), 3)  # alone: 0.1 of 1000 pairs expected over it
    0.368
    >>> said = [Labelled(0.34, True), Labelled(0.32, True), Labelled(0.31, False), Labelled(0.25, True)]
    >>> fit_threshold(seen, said, 0.6, compared=1000)  # down to 0.32; the pair at 0.31 said to be two people stops it
    0.32
    >>> round(fit_threshold(seen, [Labelled(0.1, True)], 0.6, 1000), 3)  # far under: to where 1 pair is expected
    0.307
    >>> round(fit_threshold(seen, [Labelled(0.6, False)], 0.6, 1000), 3)  # two people over it: kept apart, no raise
    0.368
    >>> fit_threshold(seen[:10], [Labelled(0.2, True)], 0.6)  # too few pairs of different people: the default
    0.2
    """
    seen = np.asarray(seen_together, dtype=float)
    footage = len(seen) >= min_pairs
    threshold = camera_threshold(seen, max(compared, len(seen)), expected) if footage else default
    floor = camera_threshold(seen, max(compared, len(seen)), TAUGHT_WRONG) if footage else -np.inf
    for pair in sorted((a for a in answered if a.similarity < threshold), key=lambda a: -a.similarity):
        if not pair.same:
            break
        threshold = max(pair.similarity, min(floor, threshold))
    return float(threshold)


def choose_learned_threshold(
    similarities: dict[str, np.ndarray],
    answers: Answers,
    default: float,
    default_name: str,
    compared: dict[str, int] | None = None,
    expected: float = EXPECTED_WRONG,
    min_pairs: int = MIN_PAIRS,
) -> ThresholdChoice:
    """The footage's threshold (``threshold.choose_threshold``) taught by the ``answers``: each camera's
    with answered pairs is fitted on them (``fit_threshold``); the highest camera's is taken.
    ``compared``: the pairs of folders each camera compares.

    >>> seen = {"a.mp4": np.linspace(-0.5, 0.49, 100)}
    >>> choose_learned_threshold(seen, Answers(), 0.6, "default", {"a.mp4": 400}).basis
    'chosen from 100 pairs of people seen together in a.mp4, so that 0.1 of the 400 pairs of folders it \
compares are expected to be two people over it'
    """
    answered = answered_by_camera(answers)
    if not answered:
        return choose_threshold(similarities, default, default_name, compared, expected, min_pairs)
    pairs_of = compared_pairs(similarities, compared)
    cameras, said = {}, {}
    for camera in sorted(set(similarities) | set(answered)):
        seen = similarities.get(camera, np.zeros(0))
        labelled = answered.get(camera, [])
        if labelled or len(seen) >= min_pairs:
            cameras[camera] = fit_threshold(seen, labelled, default, pairs_of.get(camera, 0), expected, min_pairs)
            said[camera] = len(labelled)
    camera, value = max(cameras.items(), key=lambda item: item[1])
    seen = len(similarities.get(camera, ()))
    where = shown_path(camera) if camera else "the folders without track metadata"
    taught = f"from {plural(said[camera], 'pair')} in your answers and " if said[camera] else "from "
    prior = (
        f"{plural(seen, 'pair')} of people seen together"
        if seen >= min_pairs
        else f"{default_name} (too few people seen together: {plural(seen, 'pair')}; {min_pairs} needed)"
    )
    basis = f"{value:.3f} for camera {where}, {taught}{prior}"
    if len(cameras) > 1:
        basis += f"; the highest of {len(cameras)} videos'"
    total = sum(len(s) for s in similarities.values())
    return ThresholdChoice(value, basis, cameras, total)
