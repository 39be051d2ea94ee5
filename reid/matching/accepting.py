"""What the person's answers to a plan make of it, whether typed (``--review-each``) or clicked
(``--review-server``): the splits made, the groups formed again when a split is refused, the groups
carried out, and what the answers say for later plans (``answers.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from .answers import Answers, piece_keys
from .decision import Decision, decide_at
from .folders import Folder
from .proposals import ProposedGroup
from .splitting import ProposedSplit


def remember_split(split: ProposedSplit, accepted: bool, said: Answers) -> None:
    """An accepted split's parts are two people each; a refused split's folder is kept whole."""
    if not accepted:
        said.whole.append(piece_keys(split.folder))
        return
    for k, part in enumerate(split.parts):
        for other in split.parts[k + 1 :]:
            said.add(part, other, same=False)


def regroup(decision: Decision, folders: Sequence[Folder], splits: list[ProposedSplit]) -> Decision:
    """The plan with only ``splits`` made: the folders not split are grouped again (``folders``: those
    the decision was made from, before its splits)."""
    comparison = decision.comparison
    return decide_at(
        folders,
        decision.threshold,
        decision.normalisation,
        comparison.use_motion,
        comparison.link_bonus,
        splits,
        comparison.answers,
        start_times=comparison.start_times,
    )


def leave_out(decision: Decision, group: ProposedGroup, names: Sequence[str]) -> ProposedGroup | None:
    """``group`` without the folders ``names`` (None when fewer than two remain)."""
    rest: ProposedGroup | None = group
    for name in names:
        if rest is None:
            break
        rest = decision.comparison.without(rest, name)
    return rest


def remember_group(asked: ProposedGroup, accepted: ProposedGroup | None, said: Answers) -> None:
    """What an answer to a group says for later plans: each accepted member is the person of the rest;
    a refused pair is two people; a refused bigger group is not all one person (who differs is
    unsaid); a folder left out is not the others' person."""
    if accepted is not None:  # each member beside the rest: the similarity the grouping weighed
        for member in accepted.members:
            said.add(member, [f for f in accepted.folders if f is not member], same=True)
    if accepted is asked:
        return
    if accepted is None:
        if len(asked.folders) == 2:
            said.add(asked.folders[0], asked.folders[1], same=False)
        else:
            said.refused_groups.append([piece_keys(f) for f in asked.folders])
        return
    kept = {f.name for f in accepted.folders}
    for left_out in (f for f in asked.folders if f.name not in kept):
        said.add(left_out, [f for f in asked.folders if f.name != left_out.name], same=False)


def moved_with(group: ProposedGroup, splits: Sequence[ProposedSplit]) -> ProposedSplit | None:
    """The split among ``splits`` (those accepted) that cut off the crop ``group`` puts with its owner and
    nothing else (``strays.py``): accepting that split said where the crop goes, so the group is not asked."""
    names = {f.name for f in group.folders}
    return next((s for s in splits if any(names == {part, owner} for part, owner in s.owners.items())), None)


def accepted_plan(decision: Decision, splits: list[ProposedSplit], groups: list[ProposedGroup]) -> Decision:
    """One plan of the splits and groups accepted, carried out as the plain y/n plan is."""
    return Decision(decision.threshold, decision.normalisation, splits, decision.comparison, groups, decision.choice)


def names_of(groups: Sequence[ProposedGroup]) -> list[list[str]]:
    return [[f.name for f in g.folders] for g in groups]
