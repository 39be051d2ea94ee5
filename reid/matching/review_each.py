"""``--review-each``: the plan put to the person one proposal at a time, in the terminal.

Each proposed split is answered first, y or n; a refused split changes what the folders are, so the
groups are formed again from the splits accepted (the person then answers the groups of the plan
that will really be carried out). Each group is answered y, n, or with the name of one of its folders
to leave that one out and merge the rest. What was accepted becomes one plan, carried out as the
plain y/n plan is (lease, verified backup, journal, undo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.cli import plural
from ..core.paths import shown_path
from .accepting import accepted_plan, moved_with, names_of, regroup, remember_group, remember_split
from .answers import Answers, answers_path, keep_answers
from .decision import Decision
from .folders import Folder
from .proposals import ProposedGroup
from .splitting import describe
from .status import MatchingStatus

Ask = Callable[[str], str]  # shows the question, returns the line typed ('' at the end of input)

YES = ("y", "yes")


def review_each(decision: Decision, folders: Sequence[Folder], ask: Ask) -> tuple[Decision, Answers]:
    """The part of ``decision`` the person accepts, asked through ``ask``, and what the answers say
    for later plans; ``folders`` are those the decision was made from (before its splits)."""
    splits, splits_asked, said = [], decision.splits, Answers()
    for number, split in enumerate(splits_asked, 1):
        question = f"Split {number} of {len(splits_asked)}: {describe(split).rstrip('.')}. Split it? [y/N] "
        accepted_split = ask(question).lower() in YES
        remember_split(split, accepted_split, said)
        if accepted_split:
            splits.append(split)
    if len(splits) < len(splits_asked):
        regrouped = regroup(decision, folders, splits)
        if names_of(regrouped.proposals) != names_of(decision.proposals):
            print("The folders not split are grouped again:")
        decision = regrouped
    groups, moves = [], 0
    for number, group in enumerate(decision.proposals, 1):  # in the plan's order (``order_proposals``)
        moved = moved_with(group, splits)
        if moved is not None:  # the split's answer said where its crop goes
            moves += 1
            part = next(f.name for f in group.folders if f.name in moved.owners)
            said_by = splits_asked.index(moved) + 1
            owner = moved.owners[part]
            print(f"Group {number} of {len(decision.proposals)}: {part} goes to {owner}, as split {said_by} said.")
            accepted_group = group
        else:
            accepted_group = _answer(decision, number, group, ask)
        remember_group(group, accepted_group, said)
        if accepted_group is not None:
            groups.append(accepted_group)
    accepted = accepted_plan(decision, splits, groups)
    asked = len(splits_asked) + len(decision.proposals) - moves
    taken = len(splits) + len(groups) - moves
    print(f"Accepted {taken} of {plural(asked, 'proposal')}.")
    return accepted, said


def review_and_keep(
    persons_dir: Path,
    decision: Decision,
    folders: list[Folder],
    folders_total: int,
    reporter: MatchingStatus,
    ask: Ask,
) -> Decision:
    """The part of the plan the person accepts, one proposal at a time, and the count it leaves; the
    answers are kept first, so a crash while carrying them out loses none."""
    with reporter.waiting_for_answer(len(decision.proposals) + len(decision.splits)):
        accepted, said = review_each(decision, folders, ask)
    keep_answers(persons_dir, said)
    if said:
        shown = shown_path(answers_path(persons_dir))
        print(f"Your answers are kept in {shown}: later plans follow them (--forget-answers clears them).")
    if not accepted.changes:
        print("Nothing was merged.")
        return accepted
    count = accepted.count(folders_total)
    reporter.reid.update(
        force=True, splits_proposed=len(accepted.splits), groups_proposed=len(accepted.proposals), **count.as_status()
    )
    print(f"After the merge: {count.describe()}.")
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
