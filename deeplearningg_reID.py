#!/usr/bin/env python3
"""Step 3: find person folders that show the same person and merge them, safely.

    python deeplearningg_reID.py              # show proposed merges, ask y/n, back up, merge
    python deeplearningg_reID.py --dry-run    # only show them
    python deeplearningg_reID.py --undo       # restore the folders of the last merge

Progress goes to the "processing" and "reid" sections of status.json. See README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import shlex
import sys
import time
from pathlib import Path

from tqdm import tqdm

from reid.cli import EXIT_OK, ArgumentParser, add_logging_flags, run_reporting_errors, setup_logging
from reid.config import DEFAULT_PERSONS, DEFAULT_STATUS, DEFAULT_THRESHOLDS, ReidConfig
from reid.errors import InputError
from reid.status import SectionReporter, StatusFile, utc_now_iso

log = logging.getLogger("deeplearningg_reID")
DEFAULTS = ReidConfig()
MAX_STATUS_ERRORS = 100


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    thresholds = ", ".join(f"{name} {value}" for name, value in DEFAULT_THRESHOLDS.items())
    parser = ArgumentParser(
        prog="deeplearningg_reID.py",
        description="Find person folders that show the same person (deep features + cosine similarity) and "
                    "merge them after a backup.",
        epilog="Exit codes: 0 done (also when nothing needed merging or you answered n); 1 error; "
               "2 bad arguments; 130 interrupted (run again: an interrupted merge is finished first).")
    parser.add_argument("--persons", type=Path, default=DEFAULT_PERSONS, metavar="DIR",
                        help="person folders made by obj_counting.py (default: %(default)s)")
    parser.add_argument("--status", type=Path, default=DEFAULT_STATUS, metavar="FILE",
                        help="status file shared with the other scripts (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=None,
                        help=f"merge folders whose average cosine similarity is at least this "
                             f"(default per backbone: {thresholds}; see README)")
    parser.add_argument("--backbone", choices=sorted(DEFAULT_THRESHOLDS), default=DEFAULTS.backbone,
                        help="Keras ImageNet network for the features; mobilenet backbones are several times "
                             "faster than resnet50 (default: %(default)s)")
    parser.add_argument("--weights", default=DEFAULTS.weights, metavar="imagenet|PATH|none",
                        help="'imagenet' (Keras' cache, downloaded when missing), a local .h5 weights file "
                             "for the backbone, or 'none' for random weights (tests only) (default: %(default)s)")
    parser.add_argument("--input-size", default=f"{DEFAULTS.input_height}x{DEFAULTS.input_width}",
                        metavar="HxW", help="network input, height x width (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size,
                        help="images per forward pass (default: %(default)s)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--yes", "-y", action="store_true", help="merge without asking")
    action.add_argument("--dry-run", action="store_true", help="show the proposed merges and change nothing")
    action.add_argument("--undo", action="store_true",
                        help="restore the folders of the last merge from persons/backup_before_merge")
    parser.add_argument("--report", type=Path, default=None, metavar="FILE.html",
                        help="also write a review page of the proposed merges (contact sheets, scores, "
                             "near-misses) to open in a browser before answering; works with --dry-run")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    if args.report is not None and args.undo:
        parser.error("--report shows a merge plan; it cannot be used with --undo")
    size = re.fullmatch(r"(\d+)x(\d+)", args.input_size)
    if not size:
        parser.error(f"--input-size must look like 256x128, not {args.input_size!r}")
    try:
        args.config = ReidConfig(backbone=args.backbone, weights=args.weights, threshold=args.threshold,
                                 input_height=int(size.group(1)), input_width=int(size.group(2)),
                                 batch_size=args.batch_size)
    except ValueError as exc:
        parser.error(str(exc).replace("batch_size", "--batch-size"))
    return args


class Stage:
    """The two status sections this script owns, and its error log."""

    def __init__(self, status: StatusFile, interval: float):
        self.processing = SectionReporter(status, "processing", interval)
        self.reid = SectionReporter(status, "reid", interval)
        self.errors: list[dict[str, str]] = []
        self._started = time.monotonic()
        self._operation_started = time.monotonic()

    def error(self, path: str, message: str) -> None:
        self.errors.append({"time": utc_now_iso(), "path": path, "message": message})
        del self.errors[:-MAX_STATUS_ERRORS]

    def operation(self, name: str, total: int) -> None:
        self._operation_started = time.monotonic()
        self.processing.update(force=True, operation=name, done=0, total=total, percent=0.0, eta_s=None,
                               current_folder=None)

    def progress(self, done: int, total: int, current: str) -> None:
        elapsed = time.monotonic() - self._operation_started
        eta = round(elapsed / done * (total - done), 1) if done and total else None
        self.processing.update(done=done, total=total, percent=round(100.0 * done / total, 1) if total else 100.0,
                               current_folder=current, eta_s=eta)


def print_plan(proposals, threshold: float, backbone: str) -> None:
    print(f"\nProposed merges ({backbone}, threshold {threshold:.3f}):")
    for number, group in enumerate(proposals, 1):
        members = ", ".join(f"{f.name} ({len(f.images)} crops)" for f in group.members)
        print(f"  {number}. {group.survivor.name} ({len(group.survivor.images)} crops)  <-  {members}")
        print(f"     similarity min {group.min_similarity:.3f}  mean {group.mean_similarity:.3f}")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def confirm(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    from reid import merge
    from reid.lease import Lease
    from reid.reidentify import scan_folders

    config: ReidConfig = args.config
    status = StatusFile(args.status)
    status.read()  # a malformed status file is reported before any work
    persons_dir: Path = args.persons
    if not persons_dir.is_dir():
        raise InputError(f"persons folder {persons_dir} does not exist: run obj_counting.py first")
    check_settings(args)
    stage = Stage(status, config.status_interval_s)
    if args.undo:
        with Lease(persons_dir, "undoing the last merge").exclusive() as lease:
            return undo(args, persons_dir, stage, lease)
    if args.dry_run:
        lease = Lease(persons_dir, "dry run").shared()
        waiting_for = merge.pending(persons_dir)
        if waiting_for:
            lease.release()
            print(f"Dry run: {waiting_for}. Nothing was changed; run without --dry-run to do that, then "
                  f"--dry-run again to see what else could be merged.")
            return EXIT_OK
        busy = [h for h in lease.others() if h.action == "tracking"]
        if busy:
            print(f"Provisional: {', '.join(h.describe() for h in busy)} is still adding to {persons_dir}, "
                  f"so this plan may change.")
    else:
        lease = Lease(persons_dir, "merging").exclusive()
    with lease:
        if not args.dry_run:
            note = merge.recover(persons_dir, lease=lease)
            if note:
                print(f"Note: {note}.")
        folders = scan_folders(persons_dir)
        if not folders:
            raise InputError(f"no person folders in {persons_dir}: run obj_counting.py first")
        for folder in folders:
            if not folder.images:
                log.warning("%s has no images; it is left out", folder.path)
                stage.error(str(folder.path), "no images")
        with_images = [f for f in folders if f.images]
        if len(with_images) < 2:
            detail = "only one person folder has images" if with_images else "no person folder has images"
            raise InputError(f"{detail} in {persons_dir}: nothing to compare")
        check_can_ask(args)

        stage.processing.start(operation="extracting features", done=0,
                               total=sum(len(f.images) for f in with_images), percent=0.0, current_folder=None,
                               eta_s=None, backbone=config.backbone)
        stage.reid.start(threshold=config.effective_threshold, backbone=config.backbone,
                         folders_before=len(folders), dry_run=args.dry_run, errors=stage.errors)
        try:
            return compare_and_merge(args, config, persons_dir, folders, with_images, stage, lease)
        except BaseException as exc:
            state, reason = ("interrupted", "interrupted") if isinstance(exc, KeyboardInterrupt) else ("failed", str(exc))
            stage.processing.finish(state, error=reason)
            stage.reid.finish(state, error=reason, errors=stage.errors)
            raise


def check_settings(args: argparse.Namespace) -> None:
    """Mistakes in the flags that can be found before any work, so they never show as a failed stage."""
    from reid.errors import ModelNotFoundError, OutputError

    config: ReidConfig = args.config
    if config.weights not in ("imagenet", "none") and not Path(config.weights).is_file():
        raise ModelNotFoundError(f"weights file {config.weights} not found (--weights)")
    if args.report is not None and not args.report.parent.is_dir():
        raise OutputError(f"cannot write the report {args.report}: folder {args.report.parent} does not exist")


def check_can_ask(args: argparse.Namespace) -> None:
    """Refuse before minutes of work when the answer to the y/n prompt could not be read."""
    if not (args.yes or args.dry_run or args.undo) and not (sys.stdin and sys.stdin.isatty()):
        raise InputError("cannot ask for confirmation: standard input is not a terminal. Nothing was merged; "
                         "pass --yes to merge, or --dry-run to only show the plan")


def compare_and_merge(args, config: ReidConfig, persons_dir: Path, folders, with_images, stage: Stage, lease) -> int:
    from reid import merge
    from reid.embedding_cache import EmbeddingCache
    from reid.features import FeatureExtractor, model_key
    from reid.reidentify import embed_folders, propose_groups

    size = (config.input_height, config.input_width)
    cache = EmbeddingCache(persons_dir, model_key(config.backbone, config.weights, size))
    total = sum(len(f.images) for f in with_images)

    def load_extractor() -> FeatureExtractor:
        stage.operation("loading model", 0)
        extractor = FeatureExtractor(config.backbone, config.weights, size, config.batch_size)
        stage.operation("extracting features", total)
        return extractor

    with tqdm(total=total, unit="img", desc="features", disable=True if args.no_progress else None) as bar:
        def on_progress(done: int, current: str) -> None:
            bar.update(done - bar.n)
            stage.progress(done, total, current)

        unreadable = embed_folders(with_images, load_extractor, cache, on_progress)
    for path, message in unreadable.items():
        log.warning("%s", message)
        stage.error(str(path), message)
    log.info("embedded %d images (%d from the cache)", total - len(unreadable), cache.hits)
    if cache.misses == 0:
        log.info("every crop was in the cache: the network was not loaded")
    readable = [f for f in with_images if f.embedding is not None]
    if len(readable) < 2:
        detail = (f"only {readable[0].name} has" if readable else "no person folder has") + " a readable crop"
        raise InputError(f"{detail} in {persons_dir} ({plural(len(unreadable), 'unreadable file')}): "
                         f"nothing to compare")

    stage.operation("comparing", len(with_images))
    threshold = config.effective_threshold
    proposals = propose_groups(with_images, threshold)
    stage.progress(len(with_images), len(with_images), "")
    involved = sum(len(g.folders) for g in proposals)
    stage.reid.update(force=True, groups_proposed=len(proposals), errors=stage.errors)
    review = (lambda: write_review_page(args.report, with_images, proposals, threshold, config.backbone,
                                        persons_dir, len(folders))) if args.report is not None else (lambda: None)
    if not proposals:
        print(f"\nNo two folders are similar enough (threshold {threshold:.3f}): nothing to merge.")
        review()
        return finish(stage, folders_after=len(folders), groups=0, moved=0)
    print_plan(proposals, threshold, config.backbone)
    review()
    question = f"Merge {plural(len(proposals), 'group')} ({involved} folders)? [y/N] "
    if args.dry_run:
        print("Dry run: nothing was changed.")
        return finish(stage, folders_after=len(folders), groups=0, moved=0)
    if not args.yes:
        stage.processing.update(force=True, operation="waiting for confirmation", done=0, total=len(proposals),
                                percent=0.0, current_folder=None, eta_s=None)
        # both sections stay alive while a person reads the plan, however long it takes
        with stage.processing.heartbeat(), stage.reid.heartbeat():
            answer = confirm(question)
        if not answer:
            print("Nothing was merged.")
            return finish(stage, folders_after=len(folders), groups=0, moved=0)

    groups = [merge.Group(g.survivor.name, [m.name for m in g.members]) for g in proposals]
    stage.operation("backing up", involved)
    with tqdm(total=involved, unit="folder", desc="backing up", disable=True if args.no_progress else None) as bar:
        current_operation = ["backing up"]

        def on_merge_progress(operation: str, done: int, step_total: int, current: str) -> None:
            if operation != current_operation[0]:  # backing up -> merging: a new bar and status operation
                current_operation[0] = operation
                stage.operation(operation, step_total)
                bar.reset(total=step_total)
                bar.set_description(operation)
                bar.unit = "file"
            bar.update(done - bar.n)
            stage.progress(done, step_total, current)

        result = merge.merge(persons_dir, groups, on_merge_progress, lease=lease)
    merge.fault_point("script:merged")  # tests: killed after the merge, before the status says so
    for message in result.errors:
        log.warning("%s", message)
        stage.error(str(persons_dir), message)
    folders_after = len(folders) - result.folders_removed
    print(f"\nMerged {plural(result.groups, 'group')}: {len(folders)} -> {folders_after} person folders, "
          f"{result.files_moved} files moved.")
    print(f"Backup of the {involved} folders as they were: {result.backup}")
    print(f"Undo with: {undo_command(args)}")
    return finish(stage, folders_after=folders_after, groups=result.groups, moved=result.files_moved,
                  backup=str(result.backup))


def write_review_page(path: Path, folders, proposals, threshold: float, backbone: str, persons_dir: Path,
                      folders_total: int) -> None:
    from reid.reidentify import near_misses
    from reid.report import write_report

    write_report(path, proposals, near_misses(folders, proposals, threshold), threshold=threshold,
                 backbone=backbone, persons_dir=persons_dir, folders_total=folders_total)
    print(f"Review page: {path.resolve().as_uri()} (open it in a browser)")


def finish(stage: Stage, folders_after: int, groups: int, moved: int, backup: str | None = None) -> int:
    stage.processing.finish("done", current_folder=None, eta_s=0)
    stage.reid.finish("done", folders_after=folders_after, groups_merged=groups, images_moved=moved,
                      backup=backup, errors=stage.errors)
    return EXIT_OK


def undo_command(args: argparse.Namespace) -> str:
    """The command that undoes this run's merge: this script, with this run's folders, from here."""
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())  # e.g. .venv/bin/python
    command = [str(python), sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else "deeplearningg_reID.py",
               "--undo"]
    if args.persons != DEFAULT_PERSONS:
        command += ["--persons", str(args.persons)]
    if args.status != DEFAULT_STATUS:
        command += ["--status", str(args.status)]
    return shlex.join(command)


def undo(args: argparse.Namespace, persons_dir: Path, stage: Stage, lease) -> int:
    from reid import merge

    note = merge.recover(persons_dir, lease=lease)
    if note:
        print(f"Note: {note}.")
    if merge.last_merge(persons_dir) is None:
        raise merge.nothing_to_undo(persons_dir)  # a user's mistake, not a failed stage
    stage.processing.start(operation="undoing the last merge", done=0, total=0, percent=0.0, current_folder=None,
                           eta_s=None)
    try:
        backup, folders = merge.undo_last(persons_dir, lambda op, done, total, cur: stage.progress(done, total, cur),
                                          lease=lease)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        stage.processing.finish("interrupted" if interrupted else "failed",
                                error="interrupted" if interrupted else str(exc) or type(exc).__name__)
        raise
    stage.processing.finish("done")
    stage.reid.update(force=True, undone=str(backup), undone_at=utc_now_iso())
    print(f"Restored {len(folders)} folders ({', '.join(folders)}) as they were before the merge, from {backup}.")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
