"""The merge threshold the footage chooses (pure numpy).

Two tracks seen in the same frames of one video are two people, certainly. So every video shows
how alike *different* people look in it, under its own light and at its own crop sizes: the
similarities of its folders seen together, each pair compared on its crops of those frames
(``seen_together.py``). A camera compares many more pairs than it saw together, nearly all of them
two people, so its threshold is where at most ``EXPECTED_WRONG`` of the pairs it compares are
expected to be two people who reach it: the pairs seen together give the mean and spread of
different people's similarities there, and a normal tail beyond them says how far up the one pair
in many thousands goes, which no few hundred pairs can show. The run takes the highest of its
cameras' (a pair of folders from two cameras must clear both). With fewer than ``MIN_PAIRS`` such
pairs in every camera there is too little to go on, and the backbone's shipped default stands.
``--threshold`` overrides either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from ..core.cli import plural
from ..core.paths import shown_path

# Pairs of two people expected to reach a camera's threshold, of all the pairs of folders it compares:
# one chance in ten of one such pair. Measured on TUD, Venice and Terrace (both cameras in one run): no
# merge of two people on any; 0.3 merged two people on Terrace once. Before, the threshold was the
# lowest that 1% of the pairs seen together reached, compared whole: on Terrace 0.49, high only because
# a tenth of those pairs showed one person in both folders; on their own crops of the shared frames, 1%
# of the pairs put it at 0.36, and 5 merges joined two people (BENCHMARKS.md).
EXPECTED_WRONG = 0.1
MIN_PAIRS = 30  # pairs of people seen together a camera needs before its footage decides
# A split needs the crops either side of a cut as unlike as all but this share of the pairs of people
# seen together: as unlike as 19 in 20 pairs of different people in the same video (splitting.py).
# Measured on TUD, Venice and Terrace: 0.10 split 3 fewer of Terrace's 38 mixed folders; 0.03 split 6
# more, cut 25 more folders in all, and two merges then joined two people on Terrace.
UNLIKE_RATE = 0.05


@dataclass(frozen=True)
class ThresholdChoice:
    value: float
    basis: str  # said in the plan, the status and the review page
    cameras: dict[str, float] = field(default_factory=dict)  # each camera's own, where it had enough pairs
    pairs: int = 0  # pairs of people seen together, in all cameras

    @property
    def from_footage(self) -> bool:
        return bool(self.cameras)


def reached_by(similarities: np.ndarray, rate: float) -> float:
    """The lowest similarity that at most ``rate`` of ``similarities`` reach.

    >>> round(reached_by(np.linspace(0.0, 0.99, 100), rate=0.05), 3)  # 0.95 to 0.99 reach it
    0.94
    """
    ordered = np.sort(similarities)[::-1]
    allowed = int(np.floor(rate * len(ordered)))  # pairs that may still reach it
    return float(np.nextafter(ordered[allowed], np.inf))  # just above the first pair that may not


def camera_threshold(similarities: np.ndarray, compared: int, expected: float = EXPECTED_WRONG) -> float:
    """The similarity that ``expected`` of a camera's ``compared`` pairs of folders reach if they are
    all two people, alike as its pairs seen together (``similarities``) are: the normal tail with
    their mean and spread.

    >>> seen = np.random.default_rng(0).normal(0.0, 0.1, 400)
    >>> round(camera_threshold(seen, 1000), 2), round(camera_threshold(seen, 100_000), 2)  # more pairs, higher
    (0.37, 0.47)
    """
    tail = min(0.5, expected / max(compared, 1))
    spread = max(float(np.std(similarities, ddof=1)), 1e-6)
    return float(NormalDist(float(np.mean(similarities)), spread).inv_cdf(1.0 - tail))


def unlike_levels(
    similarities: dict[str, np.ndarray], rate: float = UNLIKE_RATE, min_pairs: int = MIN_PAIRS
) -> dict[str, float]:
    """Per camera with ``min_pairs`` pairs of people seen together or more: the similarity that only
    ``rate`` of them reach. Two sides of a track less alike than that look as unlike as two different
    people there mostly do; a camera with fewer pairs has none (the splitter then uses the threshold).

    >>> levels = unlike_levels({"a.mp4": np.linspace(-0.5, 0.49, 100), "b.mp4": np.zeros(5)})
    >>> {camera: round(level, 2) for camera, level in levels.items()}  # the 5 pairs from 0.45 reach it
    {'a.mp4': 0.44}
    """
    return {camera: reached_by(s, rate) for camera, s in similarities.items() if len(s) >= min_pairs}


def choose_threshold(
    similarities: dict[str, np.ndarray],
    default: float,
    default_name: str,
    compared: Mapping[str, int] | None = None,
    expected: float = EXPECTED_WRONG,
    min_pairs: int = MIN_PAIRS,
) -> ThresholdChoice:
    """The footage's threshold (see the module docstring), or ``default`` when no camera has enough pairs.
    ``compared``: the pairs of folders each camera compares (its pairs seen together, when not given).

    >>> rng = np.random.default_rng(0)
    >>> choose_threshold({"v.mp4": rng.normal(0.0, 0.1, 500)}, 0.45, "reid-0287's default", {"v.mp4": 2000}).basis
    'chosen from 500 pairs of people seen together in v.mp4, so that 0.1 of the 2,000 pairs of folders it \
compares are expected to be two people over it'
    >>> choose_threshold({"v.mp4": np.zeros(5)}, 0.45, "reid-0287's default").basis
    "reid-0287's default: too few people seen together to choose from the videos (5 pairs; 30 needed)"
    """
    total = sum(len(s) for s in similarities.values())
    enough = {camera: s for camera, s in similarities.items() if len(s) >= min_pairs}
    if not enough:
        most = max((len(s) for s in similarities.values()), default=0)
        return ThresholdChoice(
            default,
            f"{default_name}: too few people seen together to choose from the videos "
            f"({plural(most, 'pair')}; {min_pairs} needed)",
            pairs=total,
        )
    pairs_of = compared_pairs(enough, compared)
    cameras = {camera: camera_threshold(s, pairs_of[camera], expected) for camera, s in enough.items()}
    camera, value = max(cameras.items(), key=lambda item: item[1])
    basis = footage_basis(camera, len(enough[camera]), pairs_of[camera], len(cameras), expected)
    return ThresholdChoice(value, basis, cameras, total)


def compared_pairs(similarities: Mapping[str, np.ndarray], compared: Mapping[str, int] | None) -> dict[str, int]:
    """Each camera's pairs of folders compared, at least its pairs seen together."""
    return {camera: max(len(s), (compared or {}).get(camera, 0)) for camera, s in similarities.items()}


def footage_basis(camera: str, seen: int, compared: int, cameras: int, expected: float = EXPECTED_WRONG) -> str:
    """How the footage chose the threshold, in the plan's words."""
    where = f"in {shown_path(camera)}" if camera else "in the folders without track metadata"
    others = f"; the highest of {cameras} videos'" if cameras > 1 else ""
    return (
        f"chosen from {plural(seen, 'pair')} of people seen together {where}, so that {expected:g} of the "
        f"{compared:,} pairs of folders it compares are expected to be two people over it{others}"
    )
