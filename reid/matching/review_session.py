"""One ``--review-server`` plan: the page that shows it, and carrying out what the browser approved.

The plan is carried out at most once (a second tab's answers are refused), under the persons folder's
exclusive lease taken only then: while the page waits, the server holds the lease shared, so tracking
may go on (and an apply is refused until it is done) but no other merge or undo can change the folders.
The folders are checked against the plan before anything is written; the answers are kept first, as
``--review-each`` keeps them, so a crash while merging loses none.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.cli import plural
from ..core.errors import InputError
from ..core.lease import Lease, PersonsBusyError
from ..core.paths import shown_path
from ..core.persons import list_person_folders
from .answers import answers_path, keep_answers
from .changes import apply_merge
from .decision import Decision
from .folders import Folder, scan_folders
from .review_controls import folders_table, message_page
from .review_form import Outcome, accept_answers, parse_answers
from .status import MatchingStatus

SERVING = "serving the review page"


@dataclass
class Reply:
    status: int  # HTTP status
    page: str
    final: bool = False  # the plan is done with: the server stops once this is sent


class ReviewSession:
    """The plan being reviewed, the per-run token that every request must carry, the lease."""

    def __init__(
        self,
        persons_dir: Path,
        undo_command: str,
        decision: Decision,
        folders: list[Folder],
        folders_total: int,
        reporter: MatchingStatus,
    ) -> None:
        self.persons_dir, self.undo_command = persons_dir, undo_command
        self.decision, self.folders, self.folders_total = decision, folders, folders_total
        self.reporter = reporter
        self.token = secrets.token_urlsafe(24)
        self.carried_out = False
        self.failure: InputError | None = None  # why the plan could not be carried out, said when the server stops
        self.lease = Lease(persons_dir, SERVING)
        self.planned = {f.name: sorted(p.name for p in f.images) for f in folders}

    def share_lease(self) -> None:
        """Hold the folder shared while waiting: tracking may go on, no other merge or undo can start."""
        self.lease = Lease(self.persons_dir, SERVING)
        with contextlib.suppress(PersonsBusyError):  # a merge got in meanwhile: the check before applying sees it
            self.lease.shared()

    def check(self, form: dict[str, list[str]]) -> Outcome:
        """The accepted plan ``form`` describes; ``FormError`` when it is not an answer to this plan."""
        return accept_answers(self.decision, self.folders, parse_answers(form, self.decision))

    def carry_out(self, outcome: Outcome) -> Reply:
        """Keep the answers and carry out the accepted plan, once; what became of it as a page."""
        if self.carried_out:
            return already_done()
        self.lease.release()
        try:
            merging = Lease(self.persons_dir, "merging").exclusive()
        except PersonsBusyError as exc:
            self.share_lease()
            print(f"Not carried out: {exc}.", flush=True)
            return Reply(409, message_page("Not carried out", [f"{exc}.", "Send your answers again when it is."]))
        with merging:
            changed = self._changed()
            if changed:
                self.carried_out = True  # never: its folders are not those it was made for
                self.failure = InputError(
                    f"the folders changed since the plan was made ({', '.join(changed)}); nothing was merged: "
                    "run the script again for a new plan"
                )
                return Reply(409, message_page("Not carried out", [f"{self.failure}."]), final=True)
            self.carried_out = True  # from here on, whatever happens, this plan is not carried out again
            before = _crops(self.persons_dir)
            text = _printed(lambda: self._merge(outcome, merging))
            after = _crops(self.persons_dir)
        return Reply(200, result_page(outcome, before, after, text, self.undo_command), final=True)

    def _merge(self, outcome: Outcome, merging: Lease) -> None:
        accepted = outcome.accepted
        taken = len(accepted.splits) + len(accepted.proposals)
        print(f"Accepted {taken} of {plural(outcome.asked, 'proposal')} in the browser.")
        for skipped in outcome.skipped:
            print(f"Not carried out: {skipped}; run again to review it.")
        keep_answers(self.persons_dir, outcome.said)
        if outcome.said:
            print(f"Your answers are kept in {shown_path(answers_path(self.persons_dir))}: later plans follow them.")
        if not accepted.changes:
            print("Nothing was merged.")
            self.reporter.finish(folders_after=self.folders_total, groups_merged=0, images_moved=0, count_applies=False)
            return
        count = accepted.count(self.folders_total)
        self.reporter.reid.update(
            force=True,
            splits_proposed=len(accepted.splits),
            groups_proposed=len(accepted.proposals),
            **count.as_status(),
        )
        print(f"After the merge: {count.describe()}.")
        apply_merge(self.persons_dir, self.undo_command, accepted, self.folders_total, self.reporter, merging)

    def _changed(self) -> list[str]:
        """The planned folders that are gone or hold other crops now."""
        now = {f.name: sorted(p.name for p in f.images) for f in scan_folders(self.persons_dir)}
        return [name for name, crops in self.planned.items() if now.get(name) != crops]


def already_done() -> Reply:
    return Reply(409, message_page("Already carried out", ["This plan was carried out already (in another tab?)."]))


def result_page(outcome: Outcome, before: dict, after: dict, printed: str, undo_command: str) -> str:
    """The folders the answers changed, before and after, what the merge said, and the way back."""
    changed = sorted(set(before) | set(after), key=lambda n: (len(n), n))
    changed = [n for n in changed if before.get(n) != after.get(n)]
    lines = [
        folders_table("Folders before", {n: len(before[n]) for n in changed if n in before}),
        folders_table("Folders after", {n: len(after[n]) for n in changed if n in after}),
    ]
    if changed:
        lines.append(f"Undo with: {undo_command}")
    title = "Carried out" if outcome.accepted.changes else "Nothing was merged"
    return message_page(title, lines, printed)


def _crops(persons_dir: Path) -> dict[str, list[str]]:
    return {p.name: sorted(c.name for c in p.iterdir() if c.is_file()) for p in list_person_folders(persons_dir)}


def _printed(work: Callable[[], None]) -> str:
    """Run ``work``; what it prints goes to the terminal as ever, and is returned for the page too."""
    terminal, copy = sys.stdout, io.StringIO()

    class Both(io.TextIOBase):
        def write(self, text: str) -> int:
            copy.write(text)
            return terminal.write(text)

        def flush(self) -> None:
            terminal.flush()

    with contextlib.redirect_stdout(Both()):
        work()
    return copy.getvalue()
