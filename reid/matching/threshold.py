"""The merge threshold the footage chooses (pure numpy).

Two tracks seen in the same frames of one video are two people, certainly. So every video shows
how alike *different* people look in it, under its own light and at its own crop sizes: the
similarities of its folders seen together. The threshold for a camera is the lowest at which at
most ``WRONG_RATE`` of those pairs would be merged; the run takes the highest of its cameras' (a
pair of folders from two cameras must clear both). With fewer than ``MIN_PAIRS`` such pairs in every
camera there is too little to go on, and the backbone's shipped default stands. ``--threshold``
overrides either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.cli import plural
from ..core.paths import shown_path

# The share of pairs of different people that may reach the threshold. 1%: the only rate measured with
# no merge of two people on every clip with ground truth (TUD, Venice, Terrace's cameras alone and in one
# run); at 2% Terrace camera 1 alone (threshold 0.31) merged two people 3 times (BENCHMARKS.md).
WRONG_RATE = 0.01
MIN_PAIRS = 30  # pairs of people seen together a camera needs before its footage decides
# A split needs the crops either side of a cut as unlike as all but this share of the pairs of people
# seen together: as unlike as 9 in 10 pairs of different people in the same video (splitting.py).
# Measured on TUD, Venice and Terrace: 0.15 split 3 fewer of Terrace's 38 mixed folders (TUD, Venice:
# the same) and no fewer wrongly (the 3 "pure" folders it left whole lose crops of no annotated person
# or one crop of a second one); 0.05 split 2 more mixed folders and made 11 more wrong cuts.
UNLIKE_RATE = 0.10


@dataclass(frozen=True)
class ThresholdChoice:
    value: float
    basis: str  # said in the plan, the status and the review page
    cameras: dict[str, float] = field(default_factory=dict)  # each camera's own, where it had enough pairs
    pairs: int = 0  # pairs of people seen together, in all cameras

    @property
    def from_footage(self) -> bool:
        return bool(self.cameras)


def seen_together_similarities(
    embeddings: np.ndarray, cameras: Sequence[str], pairs: Iterable[tuple[int, int]]
) -> dict[str, np.ndarray]:
    """Each camera's similarities of folders seen in the same frames (``pairs`` of row indices).

    >>> e = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> seen_together_similarities(e, ["a", "a", "b"], [(0, 1), (1, 2)])
    {'a': array([0.6])}
    """
    found: dict[str, list[float]] = defaultdict(list)
    for i, j in pairs:
        if cameras[i] == cameras[j]:
            found[cameras[i]].append(float(embeddings[i] @ embeddings[j]))
    return {camera: np.array(values) for camera, values in found.items()}


def camera_threshold(similarities: np.ndarray, rate: float = WRONG_RATE) -> float:
    """The lowest threshold that at most ``rate`` of these pairs of different people reach.

    >>> round(camera_threshold(np.linspace(0.0, 0.99, 100), rate=0.05), 3)  # 0.95 to 0.99 reach it
    0.94
    """
    ordered = np.sort(similarities)[::-1]
    allowed = int(np.floor(rate * len(ordered)))  # pairs that may still reach it
    return float(np.nextafter(ordered[allowed], np.inf))  # just above the first pair that may not


def unlike_levels(
    similarities: dict[str, np.ndarray], rate: float = UNLIKE_RATE, min_pairs: int = MIN_PAIRS
) -> dict[str, float]:
    """Per camera with ``min_pairs`` pairs of people seen together or more: the similarity that only
    ``rate`` of them reach. Two sides of a track less alike than that look as unlike as two different
    people there mostly do; a camera with fewer pairs has none (the splitter then uses the threshold).

    >>> levels = unlike_levels({"a.mp4": np.linspace(-0.5, 0.49, 100), "b.mp4": np.zeros(5)})
    >>> {camera: round(level, 2) for camera, level in levels.items()}  # the 10 pairs from 0.40 reach it
    {'a.mp4': 0.39}
    """
    return {camera: camera_threshold(s, rate) for camera, s in similarities.items() if len(s) >= min_pairs}


def choose_threshold(
    similarities: dict[str, np.ndarray],
    default: float,
    default_name: str,
    rate: float = WRONG_RATE,
    min_pairs: int = MIN_PAIRS,
) -> ThresholdChoice:
    """The footage's threshold (see the module docstring), or ``default`` when no camera has enough pairs.

    >>> rng = np.random.default_rng(0)
    >>> choose_threshold({"v.mp4": rng.uniform(-0.2, 0.2, 500)}, 0.45, "reid-0287's default").value < 0.2
    True
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
    cameras = {camera: camera_threshold(s, rate) for camera, s in enough.items()}
    camera, value = max(cameras.items(), key=lambda item: item[1])
    pairs = len(enough[camera])
    where = f"in {shown_path(camera)}" if camera else "in the folders without track metadata"
    others = f"; the highest of {len(cameras)} videos'" if len(cameras) > 1 else ""
    basis = f"chosen from {plural(pairs, 'pair')} of people seen together {where}: {rate:.0%} of them reach it{others}"
    return ThresholdChoice(value, basis, cameras, total)
