"""A reviewer who answers from the ground truth, and what its answers do to the count.

The loop is the product's: the plan (``decide``, obeying and learning from the answers so far),
its splits, then its groups in the order ``--review-each`` asks them (``order_proposals``); when
the plan proposes nothing more, its near misses under the threshold ("is id_3 the same person as
id_40?"), most similar first. Each answer is kept as ``accepting.remember_group`` keeps it, and what is
accepted is carried out in memory: split parts become folders, merged folders pool their crops
(the embedding is their crops' mean, as ``embedding.set_vectors`` makes it). The folders keep
their raw crop vectors: every plan normalises its own copies per camera, as a run would.

The reviewer knows each crop's GT person: a folder shows its majority (``identity.identity_of``).
A group of one person: yes; all but one member of one person: leave that one out; else no. A split:
yes when its parts show different people. A near miss: one person or two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..core.config import MatchingConfig
from ..matching.accepting import moved_with, remember_split
from ..matching.accepting import remember_group as remember
from ..matching.answers import Answers
from ..matching.decision import Decision, decide, decide_at
from ..matching.folders import Folder
from ..matching.proposals import ProposedGroup
from ..matching.splitting import ProposedSplit, apply_splits
from . import identity as ident
from .video_merge import MIXING, mixing

Truth = Mapping[Path, int | None]  # each crop's GT person (None: nobody)


@dataclass(frozen=True)
class Point:
    """The count after some answers: as reviewed, and if the rest of the plan were accepted as it is."""

    answers: int
    folders: int
    per_person: tuple[float, int]  # folders per GT person that is some folder's majority: mean, max
    mixed: int  # folders mixing two people for more than 5% of their crops
    wrong_merges: int  # folders joining pieces of two GT persons
    thresholds: dict[str, float]  # each camera's, as the next plan learns it
    threshold: float
    plan_folders: int  # after the next plan, accepted as it is (what --yes would make now)
    plan_wrong_merges: int


@dataclass
class State:
    """The folders as the answers so far left them (raw crop vectors), each with the pieces it was made of."""

    folders: list[Folder]
    pieces: dict[str, list[list[Path]]] = field(default_factory=dict)  # folder name -> its pieces' crops

    def __post_init__(self) -> None:
        for folder in self.folders:
            self.pieces.setdefault(folder.name, [list(folder.images)])


def person_of(crops: Sequence[Path], truth: Truth) -> ident.Identity:
    return ident.identity_of([truth.get(p) for p in crops])


def shown(folder: Folder, truth: Truth) -> int | None:
    """The GT person ``folder`` shows, None when most of its crops show nobody the GT knows (a false
    detection, or someone it leaves out): the reviewer cannot tell whom, as ``wrong_merges`` cannot."""
    identity = person_of(folder.images, truth)
    return None if identity.off_gt else identity.majority


def answer_group(group: ProposedGroup, truth: Truth) -> str | None:
    """'y', the name of the one member to leave out, or None (no). A member the GT cannot place is
    no reason to refuse (nor to accept: a group of only such members is refused).

    >>> f = [Folder(n, Path(n), [Path(f"{n}.png")]) for n in "abcd"]
    >>> truth = {Path("a.png"): 1, Path("b.png"): 1, Path("c.png"): 2, Path("d.png"): None}
    >>> answer_group(ProposedGroup(f[0], f[1:3], 0, 0), truth), answer_group(ProposedGroup(f[0], [f[2]], 0, 0), truth)
    ('c', None)
    >>> answer_group(ProposedGroup(f[0], [f[1]], 0, 0), truth), answer_group(ProposedGroup(f[0], f[1:], 0, 0), truth)
    ('y', 'c')
    >>> answer_group(ProposedGroup(f[0], [f[3]], 0, 0), truth), answer_group(ProposedGroup(f[3], [], 0, 0), truth)
    ('y', None)
    """
    people = [shown(f, truth) for f in group.folders]
    known = Counter(p for p in people if p is not None)
    if not known:
        return None
    most, count = known.most_common(1)[0]
    others = [f.name for f, p in zip(group.folders, people, strict=True) if p is not None and p != most]
    if not others:
        return "y"
    return others[0] if len(others) == 1 and count >= 2 else None


def answer_split(split: ProposedSplit, truth: Truth) -> bool:
    """Yes when two of its parts show two GT persons."""
    return len({shown(p, truth) for p in split.parts} - {None}) > 1


def same_person(first: Folder, second: Folder, truth: Truth) -> bool:
    """Yes only when both show the same GT person: a reviewer who cannot tell says no."""
    a = shown(first, truth)
    return a is not None and a == shown(second, truth)


def fresh(folder: Folder) -> Folder:
    """A copy a plan may normalise in place, its embedding the mean of its raw crop vectors."""
    vectors = None if folder.vectors is None else folder.vectors.copy()
    embedding = None if vectors is None else vectors.astype(np.float64).mean(axis=0).astype(np.float32)
    return replace(folder, vectors=vectors, embedding=embedding)


def merged(folders: Sequence[Folder]) -> Folder:
    """The first of ``folders`` holding all their crops and tracks."""
    first = folders[0]
    vectors = [f.vectors for f in folders if f.vectors is not None]
    return fresh(
        replace(
            first,
            images=[p for f in folders for p in f.images],
            appearances=[a for f in folders for a in f.appearances],
            vectors=np.concatenate(vectors) if vectors else None,
            frames={k: v for f in folders for k, v in f.frames.items()},
            boxes={k: v for f in folders for k, v in f.boxes.items()},
        )
    )


def carry_out(state: State, splits: Sequence[ProposedSplit], groups: Sequence[ProposedGroup]) -> State:
    """The folders after these accepted splits and groups (names as the plan gives them)."""
    raw = {f.name: f for f in state.folders}
    pieces = dict(state.pieces)
    parts = {}
    for split in splits:
        whole = raw[split.folder.name]
        for part in split.parts:
            rows = [whole.images.index(p) for p in part.images]
            parts[part.name] = fresh(replace(part, vectors=whole.vectors[rows]))
            pieces[part.name] = [list(part.images)]
    after = [parts.get(f.name, raw.get(f.name)) for f in apply_splits(state.folders, splits)]
    by_name = {f.name: f for f in after}
    for group in groups:
        names = [f.name for f in group.folders]
        by_name[names[0]] = merged([by_name.pop(n) for n in names])
        pieces[names[0]] = [p for n in names for p in pieces[n]]
    return State(list(by_name.values()), {n: pieces[n] for n in by_name})


def count(state: State, truth: Truth) -> tuple[int, tuple[float, int], int, int]:
    """Folders, folders per GT person (mean, max), folders mixing people, folders joining two people."""
    identities = [person_of(f.images, truth) for f in state.folders]
    wrong = 0
    for folder in state.folders:
        people = {person_of(p, truth) for p in state.pieces[folder.name]}
        wrong += len({i.majority for i in people if not i.off_gt}) > 1
    mixed = sum(mixing(i) > MIXING for i in identities)
    return len(state.folders), ident.fragmentation(identities), mixed, wrong


def review(
    folders: Sequence[Folder],
    truth: Truth,
    config: MatchingConfig,
    answers_wanted: int = 30,
    every: int = 5,
    use_motion: bool = True,
    per_plan: int | None = None,
    start_times: Mapping[str, float] | None = None,
) -> list[Point]:
    """The count after 0, ``every``, 2 ``every``, ... answers up to ``answers_wanted`` (module docstring);
    ``folders`` are embedded (raw crop vectors, not normalised). ``per_plan``: answers after which the
    plan is made again from all the answers so far (None: each plan is asked through, as
    ``--review-each`` asks it); ``start_times``: the videos' starts, as ``--start-times`` gives them."""
    state = State([fresh(f) for f in folders if f.vectors is not None])
    said, points, asked = Answers(), [], 0

    def plan(on: State) -> tuple[Decision, list[Folder]]:
        working = [fresh(f) for f in on.folders]
        return decide(working, config, use_motion, said, start_times), working

    def record(on: State) -> None:
        decision, _ = plan(on)
        folders, per_person, mixed, wrong = count(on, truth)
        everything = carry_out(on, decision.splits, decision.proposals)
        cameras = dict(decision.choice.cameras) if decision.choice else {}
        whole_plan = (len(everything.folders), count(everything, truth)[3])
        points.append(Point(asked, folders, per_person, mixed, wrong, cameras, decision.threshold, *whole_plan))

    record(state)
    while asked < answers_wanted:
        decision, working = plan(state)
        splits: list[ProposedSplit] = []
        groups: list[ProposedGroup] = []
        before = asked
        for _ in _one_round(decision, working, truth, said, splits, groups):
            asked += 1
            if asked % every == 0 or asked == answers_wanted:
                record(carry_out(state, splits, groups))
            if asked >= answers_wanted or (per_plan is not None and asked - before >= per_plan):
                break
        state = carry_out(state, splits, groups)
        if asked == before:
            break  # nothing left to ask
    if points[-1].answers != asked:
        record(state)
    return points


def _one_round(
    decision: Decision,
    working: list[Folder],
    truth: Truth,
    said: Answers,
    splits: list[ProposedSplit],
    groups: list[ProposedGroup],
) -> Iterator[None]:
    """The plan's questions, one answer per step (kept in ``said``; accepted ones added to ``splits`` and
    ``groups``): its splits, its groups as ``--review-each`` orders them, else its nearest miss."""
    moved: set[tuple[str, ...]] = set()  # groups that carry a split's crop to its owner: one answer with it
    for split in decision.splits:
        accepted = answer_split(split, truth)
        remember_split(split, accepted, said)
        splits += [split] if accepted else []
        for group in decision.proposals if accepted else ():
            if moved_with(group, [split]) is not None:  # as review_each carries it out with the split
                remember(group, group, said)
                groups.append(group)
                moved.add(tuple(sorted(f.name for f in group.folders)))
        yield
    if len(splits) < len(decision.splits):  # the folders not split are grouped again, as review_each does
        c = decision.comparison
        decision = decide_at(
            working,
            decision.threshold,
            decision.normalisation,
            c.use_motion,
            c.link_bonus,
            splits,
            said,
            start_times=c.start_times,
        )
    for group in decision.proposals:  # as --review-each asks them (the plan's order, ``order_proposals``)
        if moved_with(group, splits) is not None:  # not asked: the split's answer said where its crop goes
            if tuple(sorted(f.name for f in group.folders)) not in moved:
                remember(group, group, said)
                groups.append(group)
            continue
        answer = answer_group(group, truth)
        accepted = group if answer == "y" else None if answer is None else decision.comparison.without(group, answer)
        remember(group, accepted, said)
        groups += [accepted] if accepted is not None else []
        yield
    if decision.changes:
        return
    comparison = decision.comparison
    misses = comparison.near_misses([], decision.threshold, margin=2.0, limit=len(comparison.folders) ** 2)
    nearest = next((m for m in misses if m.reason == "under the threshold"), None)
    if nearest is not None:  # "is id_3 the same person as id_40?"
        pair = comparison.proposal([comparison.folders.index(nearest.first), comparison.folders.index(nearest.second)])
        accepted = pair if same_person(nearest.first, nearest.second, truth) else None
        remember(pair, accepted, said)
        groups += [accepted] if accepted is not None else []
        yield
