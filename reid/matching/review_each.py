"""``--review-each``: the plan put to the person one proposal at a time, in the terminal.

Each proposed split is answered first, y or n; a refused split changes what the folders are, so the
groups are formed again from the splits accepted (the person then answers the groups of the plan
that will really be carried out). Each group is answered y, n, or with the name of one of its folders
to leave that one out and merge the rest. What was accepted becomes one plan, carried out as the
plain y/n plan is (lease, verified backup, journal, undo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..core.cli import plural
from .decision import Decision, decide_at
from .folders import Folder
from .proposals import ProposedGroup
from .splitting import describe

Ask = Callable[[str], str]  # shows the question, returns the line typed ('' at the end of input)

YES = ("y", "yes")


def review_each(decision: Decision, folders: Sequence[Folder], ask: Ask) -> Decision:
    """The part of ``decision`` the person accepts, asked through ``ask``; ``folders`` are those the
    decision was made from (before its splits)."""
    splits, splits_asked = [], decision.splits
    for number, split in enumerate(splits_asked, 1):
        if ask(f"Split {number} of {len(splits_asked)}: {describe(split)}. Split it? [y/N] ").lower() in YES:
            splits.append(split)
    if len(splits) < len(splits_asked):
        comparison = decision.comparison
        regrouped = decide_at(
            folders, decision.threshold, decision.normalisation, comparison.use_motion, comparison.link_bonus, splits
        )
        if _names(regrouped.proposals) != _names(decision.proposals):
            print("The folders not split are grouped again:")
        decision = regrouped
    groups = [g for g in (_answer(decision, number, g, ask) for number, g in enumerate(decision.proposals, 1)) if g]
    accepted = Decision(
        decision.threshold, decision.normalisation, splits, decision.comparison, groups, decision.choice
    )
    asked = len(splits_asked) + len(decision.proposals)
    taken = len(splits) + len(groups)
    print(f"Accepted {taken} of {plural(asked, 'proposal')}.")
    return accepted


def _answer(decision: Decision, number: int, group: ProposedGroup, ask: Ask) -> ProposedGroup | None:
    members = ", ".join(f.name for f in group.members)
    names = [f.name for f in group.folders]
    question = (
        f"Group {number} of {len(decision.proposals)}: {group.survivor.name}  <-  {members} "
        f"(similarity min {group.min_similarity:.3f}). Merge? [y/N, or a folder to leave out] "
    )
    while True:
        answer = ask(question).strip()
        if answer.lower() in YES:
            return group
        if answer in names:
            rest = decision.comparison.without(group, answer)
            if rest is None:
                print(f"Leaving out {answer}: nothing is left to merge in group {number}.")
            else:
                print(f"Leaving out {answer}: {rest.survivor.name}  <-  {', '.join(f.name for f in rest.members)}.")
            return rest
        if answer.lower() in ("", "n", "no"):
            return None
        print(f"Answer y, n or one of {', '.join(names)}.")


def _names(groups: Sequence[ProposedGroup]) -> list[list[str]]:
    return [[f.name for f in g.folders] for g in groups]
