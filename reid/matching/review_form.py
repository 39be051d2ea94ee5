"""The review page's answers (``--review-server``), checked against the plan and made into the same
accepted plan and the same kept answers as ``--review-each`` makes of typed ones.

The browser sends, for proposal ``n`` of the page (from 1): ``split-n`` or ``group-n`` = ``yes``,
``no`` or ``later`` (nothing carried out, nothing remembered), and ``leave-n`` = a folder of group
``n`` to leave out of it (several allowed; with ``later`` it means: merge the rest). Nothing from the
browser is trusted: an unknown field, proposal, answer or folder is a ``FormError`` and nothing is done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..core.errors import InputError
from .accepting import accepted_plan, leave_out, moved_with, regroup, remember_group, remember_split
from .answers import Answers
from .decision import Decision
from .folders import Folder
from .proposals import ProposedGroup

CHOICES = ("yes", "no", "later")
ALWAYS_ALLOWED = ("token",)


class FormError(InputError):
    """The browser sent something that is not an answer to this plan."""


@dataclass
class PageAnswers:
    splits: dict[int, str] = field(default_factory=dict)  # proposal index -> yes / no
    groups: dict[int, str] = field(default_factory=dict)  # likewise
    left_out: dict[int, list[str]] = field(default_factory=dict)  # group index -> folders left out


@dataclass
class Outcome:
    accepted: Decision
    said: Answers
    asked: int
    skipped: list[str]  # groups answered that a refused split changed: not carried out


def order_for_review(decision: Decision) -> None:
    """The answers that change the count most come first: splits (each adds a person), the most parts
    first; the groups are in the plan's order already (``order_proposals``: by folders merged away,
    then by how near their weakest link is to the threshold)."""
    decision.splits.sort(key=lambda s: -len(s.parts))


def parse_answers(form: Mapping[str, Sequence[str]], decision: Decision) -> PageAnswers:
    """The page's fields as answers to ``decision``; ``FormError`` for anything else."""
    answers = PageAnswers()
    for key, values in form.items():
        if key in ALWAYS_ALLOWED:
            continue
        kind, _, number = key.partition("-")
        proposals = {"split": decision.splits, "group": decision.proposals, "leave": decision.proposals}.get(kind)
        if proposals is None or not number.isdigit() or not 1 <= int(number) <= len(proposals):
            raise FormError(f"{key!r} is not a proposal of this plan")
        index = int(number) - 1
        if kind == "leave":
            names = [f.name for f in decision.proposals[index].folders]
            unknown = [v for v in values if v not in names]
            if unknown:
                raise FormError(f"{unknown[0]!r} is not a folder of group {number}")
            answers.left_out[index] = list(dict.fromkeys(values))
            continue
        if len(values) != 1 or values[0] not in CHOICES:
            raise FormError(f"{key} must be one of {', '.join(CHOICES)}")
        if values[0] != "later":
            (answers.splits if kind == "split" else answers.groups)[index] = values[0]
    return answers


def accept_answers(decision: Decision, folders: Sequence[Folder], page: PageAnswers) -> Outcome:
    """What ``page`` makes of ``decision`` (made from ``folders``): as ``review_each`` does, refused
    splits regroup the folders; a group is carried out only as it was shown (one a refused split
    changed is skipped, but what its answer says is kept)."""
    said, splits = Answers(), []
    for index, split in enumerate(decision.splits):
        if index in page.splits:
            remember_split(split, page.splits[index] == "yes", said)
        if page.splits.get(index) == "yes":
            splits.append(split)
    plan = decision if len(splits) == len(decision.splits) else regroup(decision, folders, splits)
    shown = {_names(g): g for g in plan.proposals}
    known = {f.name for f in plan.comparison.folders}
    groups, skipped = [], []
    for index, asked in enumerate(decision.proposals):
        answer, names = page.groups.get(index), page.left_out.get(index, [])
        if answer is None and not names and moved_with(asked, splits) is not None:
            answer = "yes"  # the crop its accepted split cut off goes where the split said
        if answer is None and not names:
            continue
        if not {f.name for f in asked.folders} <= known:
            skipped.append(f"group {index + 1} (a folder of it was not split)")
            continue
        group = shown.get(_names(asked))
        if group is None:  # its folders are grouped otherwise now: what was said of them still holds
            group, skipped = asked, [*skipped, f"group {index + 1} (its folders are grouped otherwise now)"]
        taken = None if answer == "no" else leave_out(plan, group, names)
        remember_group(group, taken, said)
        if taken is not None and group is shown.get(_names(asked)):
            groups.append(taken)
    asked_count = len(decision.splits) + len(decision.proposals)
    return Outcome(accepted_plan(plan, splits, groups), said, asked_count, skipped)


def _names(group: ProposedGroup) -> tuple[str, ...]:
    return tuple(sorted(f.name for f in group.folders))
