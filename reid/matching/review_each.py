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
from .answers import Answers, answers_path, keep_answers, piece_keys
from .decision import Decision, decide_at
from .folders import Folder
from .ordering import order_proposals
from .proposals import ProposedGroup
from .splitting import ProposedSplit, describe
from .status import MatchingStatus

Ask = Callable[[str], str]  # shows the question, returns the line typed ('' at the end of input)

YES = ("y", "yes")


def review_each(decision: Decision, folders: Sequence[Folder], ask: Ask) -> tuple[Decision, Answers]:
    """The part of ``decision`` the person accepts, asked through ``ask``, and what the answers say
    for later plans; ``folders`` are those the decision was made from (before its splits)."""
    splits, splits_asked, said = [], decision.splits, Answers()
    for number, split in enumerate(splits_asked, 1):
        accepted = ask(f"Split {number} of {len(splits_asked)}: {describe(split)}. Split it? [y/N] ").lower() in YES
        remember_split(split, accepted, said)
        splits += [split] if accepted else []
    if len(splits) < len(splits_asked):
        comparison = decision.comparison
        regrouped = decide_at(
            folders,
            decision.threshold,
            decision.normalisation,
            comparison.use_motion,
            comparison.link_bonus,
            splits,
            comparison.answers,
        )
        if _names(regrouped.proposals) != _names(decision.proposals):
            print("The folders not split are grouped again:")
        decision = regrouped
    groups = []
    for number, group in enumerate(order_proposals(decision.proposals, decision.threshold), 1):
        accepted_group = _answer(decision, number, group, ask)
        remember(group, accepted_group, said)
        if accepted_group is not None:
            groups.append(accepted_group)
    accepted = Decision(
        decision.threshold, decision.normalisation, splits, decision.comparison, groups, decision.choice
    )
    asked = len(splits_asked) + len(decision.proposals)
    taken = len(splits) + len(groups)
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


def remember_split(split: ProposedSplit, accepted: bool, said: Answers) -> None:
    """An accepted split's parts are two people each; a refused split's folder is kept whole."""
    if not accepted:
        said.whole.append(piece_keys(split.folder))
        return
    for k, part in enumerate(split.parts):
        for other in split.parts[k + 1 :]:
            said.add(part, other, same=False)


def remember(asked: ProposedGroup, accepted: ProposedGroup | None, said: Answers) -> None:
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
