"""Stage 3, second half: merging person folders, and undoing it, without losing a crop.

``plan`` decides every move before anything changes; ``journal`` records each step;
``backup`` makes and verifies the safety copies; ``apply`` merges; ``undo`` restores;
``recovery`` finishes whatever a killed run left; ``faults`` lets the tests kill it anywhere.
"""

from .apply import MergeResult, merge
from .backup import last_merge
from .journal import MERGE_JOURNAL, UNDO_JOURNAL
from .plan import Group, Move, Split, plan_moves
from .recovery import pending, recover
from .undo import nothing_to_undo, undo_last

__all__ = [
    "MERGE_JOURNAL",
    "UNDO_JOURNAL",
    "Group",
    "Split",
    "MergeResult",
    "Move",
    "last_merge",
    "merge",
    "nothing_to_undo",
    "pending",
    "plan_moves",
    "recover",
    "undo_last",
]
