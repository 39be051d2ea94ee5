"""The count in one line, and the splitter scored against motmetrics' identity switches.

``count_row`` is what a user of the count asks first: how many people the ground truth has, how
many folders tracking made and how many of them mix two people, the same after the plan
``deeplearningg_reID.py`` makes by default, and whether the merge joined two people. The
benchmark puts one such row per clip in one table.

``score_splits`` asks whether the splitter finds the switches: a folder that mixes two people
(more than 5% of its crops show a second GT person) should be split, and so should a track that
motmetrics says was handed from one person to another (a *transfer*: the track's box matched one
GT person, then another). A transfer is found when the plan splits its folder between the crops
around it (the last crop before the switch's frame and the first one from it on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import identity as ident
from .video_folders import FolderScore
from .video_merge import MIXING, Outcome, mixing

COUNT_HEADER = (
    "| videos | GT persons | folders after tracking | mixed after tracking (worst) | folders after the merge "
    "| mixed after the merge (worst) | folders per person: tracking, merge (max) | people covered "
    "| merge pairwise P / R | wrong merges | ID switches | mixed folders split |"
)


@dataclass(frozen=True)
class SplitScore:
    mixed: int  # folders mixing two people for more than 5% of their crops, after tracking
    split: int  # folders the plan splits
    split_mixed: int  # of them, mixed ones
    cleaned: int  # mixed folders split into parts none of which mixes people any more
    transfers: int  # motmetrics' transfers (a track handed from one GT person to another)
    transfers_in_mixed: int  # of them, in a folder whose crops mix people: visible to a splitter
    transfers_at_split: int  # of them, where the plan splits the folder


def score_splits(
    folders: Sequence[FolderScore], outcome: Outcome, transfers: Mapping[int, Sequence[int]]
) -> SplitScore:
    """How the plan's splits (in ``outcome``) meet the folders that mix people and the transfers
    (folder id -> MOT frames, from 1, in the folder's own video).

    >>> from reid.evaluation.identity import identity_of
    >>> from reid.evaluation.video_merge import Outcome
    >>> mixed = FolderScore(None, 5, [1] * 3 + [2] * 3, identity_of([1] * 3 + [2] * 3), identity_of([]), (0, 50))
    >>> plan = Outcome([], {}, 0.3)
    >>> plan.split_bounds, plan.split_parts = {5: [(20, 30)]}, {5: [identity_of([1] * 3), identity_of([2] * 3)]}
    >>> score_splits([mixed], plan, {5: [26, 45]})  # transfers at frames 25 (the split's) and 44
    SplitScore(mixed=1, split=1, split_mixed=1, cleaned=1, transfers=2, transfers_in_mixed=2, transfers_at_split=1)
    """
    mixed = {f.person_id for f in folders if mixing(f.crops) > MIXING}
    split = set(outcome.split_bounds)
    cleaned = {
        owner for owner in split & mixed if all(mixing(part) <= MIXING for part in outcome.split_parts.get(owner, []))
    }
    events = [(folder, frame - 1) for folder, frames in transfers.items() for frame in frames]  # crop frames
    at_split = [
        (folder, frame)
        for folder, frame in events
        if any(last < frame <= first for last, first in outcome.split_bounds.get(folder, []))
    ]
    return SplitScore(
        mixed=len(mixed),
        split=len(split),
        split_mixed=len(split & mixed),
        cleaned=len(cleaned),
        transfers=len(events),
        transfers_in_mixed=sum(folder in mixed for folder, _ in events),
        transfers_at_split=len(at_split),
    )


def mixed_cell(identities: Sequence[ident.Identity]) -> str:
    """Folders mixing two people for more than 5% of their crops, and the worst share."""
    shares = [mixing(i) for i in identities]
    return f"{sum(s > MIXING for s in shares)} ({max(shares, default=0.0):.0%})"


def count_row(
    name: str,
    before: Outcome,
    after: Outcome | None,
    targets: set[int],
    gt_persons: int,
    switches: int,
    splits: SplitScore | None,
) -> str:
    """One line of ``COUNT_HEADER``: the count after tracking and after the default plan."""
    c = ident.count_scores(before.identities, targets)
    cells = [name, str(gt_persons), str(c.folders), mixed_cell(before.identities)]
    if after is None:  # no folder: nothing to merge
        cells += ["-", "-", f"{_f(c.per_id[0], 2)} ({c.per_id[1]}), -", f"{c.covered} / {c.targets}", "-", "-"]
    else:
        m = ident.count_scores(after.identities, targets)
        cells += [
            str(m.folders),
            mixed_cell(after.identities),
            f"{_f(c.per_id[0], 2)} ({c.per_id[1]}), {_f(m.per_id[0], 2)} ({m.per_id[1]})",
            f"{m.covered} / {m.targets}",
            f"{_f(after.on_gt[0])} / {_f(after.on_gt[1])}",
            str(after.wrong_merges),
        ]
    cells += [str(switches), "-" if splits is None else f"{splits.split_mixed} of {splits.mixed}"]
    return "| " + " | ".join(cells) + " |"


def split_lines(
    splits: SplitScore, per_video: Mapping[str, Mapping[str, float]], transfers: Mapping[str, int]
) -> list[str]:
    """The splitter against the switches: motmetrics' per video, then the default plan's splits."""
    lines = ["| video | ID switches | transfers (a track handed to another GT person) |", "| --- | --- | --- |"]
    lines += [f"| {name} | {m['num_switches']:.0f} | {transfers.get(name, 0)} |" for name, m in per_video.items()]
    return [
        *lines,
        "",
        f"| folders split | folders mixing people (> {MIXING:.0%}) | of them split | of them split into parts that "
        "no longer mix | transfers | of them in a folder that mixes people | of them split at the transfer |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {splits.split} | {splits.mixed} | {splits.split_mixed} | {splits.cleaned} | {splits.transfers} "
        f"| {splits.transfers_in_mixed} | {splits.transfers_at_split} |",
        "",
        "A transfer in a folder whose crops show one person left no trace in its crops (the track came back to "
        "its person, or the other person was never cropped): no splitter working on crops can find it. A "
        "transfer is split when the plan cuts its folder between the crops around the transfer's frame.",
    ]


def wrong_lines(outcome: Outcome) -> list[str]:
    """Each group the plan makes of folders of two GT persons: its folders and whom each shows."""
    if not outcome.wrong_groups:
        return ["None: no group of the default plan joins folders of two GT persons."]
    return [
        f"- {', '.join(f'{name} ({ident_text(gt_id)})' for name, gt_id in group)}" for group in outcome.wrong_groups
    ]


def ident_text(gt_id: int | None) -> str:
    return "nobody" if gt_id is None else f"GT {gt_id}"


def _f(value: float, digits: int = 3) -> str:
    return "-" if value != value else f"{value:.{digits}f}"
