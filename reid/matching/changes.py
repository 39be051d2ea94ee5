"""What a merge or an undo changed, carried out and said: the plan applied (journaled, backed up
first), the folders before and after, the persons each video has now, the way back."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..core.cli import plural
from ..core.lease import Lease
from ..core.paths import shown_path
from ..core.persons import IdAllocator, list_person_folders, person_folder_name
from ..core.track_metadata import read_track_metadata, tracks_of
from ..merging import last_merge, merge, nothing_to_undo, recover, undo_last
from ..merging.faults import fault_point
from .decision import Decision
from .status import MatchingStatus


def say_note(note: str | None) -> None:
    if note:
        print(f"Note: {note}.")


def persons_per_video(persons_dir: Path) -> list[tuple[str, int]]:
    """Each video's persons as the folders are now: the folders holding a track of it (a person
    merged across two cameras counts in both)."""
    counts: Counter[str] = Counter()
    for folder in list_person_folders(persons_dir):
        videos = {t["video"] for t in tracks_of(read_track_metadata(folder)) if isinstance(t.get("video"), str)}
        counts.update(videos)
    return sorted((shown_path(video), n) for video, n in counts.items())


def apply_merge(
    persons_dir: Path,
    undo_command: str,
    decision: Decision,
    folders_before: int,
    reporter: MatchingStatus,
    lease: Lease,
) -> None:
    """Carry out the plan the person agreed to (journaled, backed up first) and say what became of it."""
    allocator = IdAllocator(persons_dir)
    groups, splits = decision.operations(lambda: person_folder_name(allocator.reserve()))
    with reporter.phased({"backing up": "folder"}) as progress:
        result = merge(persons_dir, groups, progress, lease=lease, splits=splits)
    fault_point("script:merged")  # tests: killed after the merge, before the status says so
    for message in result.errors:
        reporter.error(str(persons_dir), message)
    folders_after = folders_before + result.folders_created - result.folders_removed
    done = f"Merged {plural(result.groups, 'group')}"
    if splits:
        done = f"Split {plural(len(splits), 'folder')}" + (
            f" and merged {plural(result.groups, 'group')}" if groups else ""
        )
    after, moved = plural(folders_after, "person folder"), plural(result.files_moved, "file")
    print(f"\n{done}: {folders_before} -> {after}, {moved} moved.")
    print(f"Backup of the folders as they were: {result.backup}")
    print(f"Undo with: {undo_command}")
    per_video = persons_per_video(persons_dir)
    if per_video:
        width = max(len(video) for video, _ in per_video)
        print("Persons per video now:")
        for video, persons in per_video:
            print(f"  {video:<{width}}  {plural(persons, 'person')}")
    reporter.finish(
        count_applies=True,
        folders_after=folders_after,
        groups_merged=result.groups,
        splits_made=len(splits),
        images_moved=result.files_moved,
        backup=str(result.backup),
    )


def undo(persons_dir: Path, reporter: MatchingStatus, lease: Lease) -> None:
    """Restore the folders of the last merge."""
    say_note(recover(persons_dir, lease=lease))
    if last_merge(persons_dir) is None:
        raise nothing_to_undo(persons_dir)  # a user's mistake, not a failed stage
    reporter.start_undo()
    try:
        with reporter.phased({"restoring": "folder"}) as progress:
            backup, folders = undo_last(persons_dir, progress, lease=lease)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        reporter.processing.finish(
            "interrupted" if interrupted else "failed",
            error="interrupted" if interrupted else str(exc) or type(exc).__name__,
        )
        raise
    reporter.processing.finish("done")
    reporter.undone(str(backup))
    restored = f"{plural(len(folders), 'folder')} ({', '.join(folders)})"
    print(f"Restored {restored} as they were before the merge, from {backup}.")
