"""The matching stage as the script runs it: folders -> embeddings -> proposed groups -> the
person's answer -> the merge (or the undo of the last one).

``run_matching`` reads like the stage: check the request, take the persons folder's lease
(shared for a dry run, which may show a provisional plan while tracking still runs;
exclusive otherwise), finish an interrupted merge, embed, compare, show the plan, ask, merge.
The questions are asked through the ``ask`` callable the script passes in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.cli import plural
from ..core.config import MatchingConfig
from ..core.errors import InputError, OutputError
from ..core.lease import Lease
from ..core.paths import shown_path
from ..core.persons_dir import require_persons_dir
from ..core.status import StatusFile
from ..merging import pending, recover
from .answers import Answers, answers_path, forget_answers, load_answers
from .cache import EmbeddingCache
from .changes import apply_merge, say_note, undo
from .cross_camera import add_cross_camera_evidence
from .decision import Decision, decide, plan_lines, question
from .downloads import check_weights_file
from .embedding import embed_folders
from .file_times import recorded_start_times
from .folders import Folder, scan_folders
from .review_each import review_and_keep
from .review_form import order_for_review
from .start_times import match_videos
from .status import MatchingStatus

log = logging.getLogger(__name__)

Ask = Callable[[str], str]  # shows a question, returns the line typed ('' at the end of input)


@dataclass(frozen=True)
class MatchingRequest:
    """What the user asked of the matching stage."""

    persons_dir: Path
    status_file: Path
    config: MatchingConfig
    mode: str = "ask"  # ask, each (--review-each), server (--review-server), yes, dry-run, undo, forget
    report: Path | None = None  # the review page to write
    show_progress: bool | None = None
    undo_command: str = "deeplearningg_reID.py --undo"  # printed after a merge
    ray_address: str | None = None  # embed on Ray: "" a local instance, else the cluster's address
    start_times: Mapping[str, float] = field(default_factory=dict)  # --start-times: video name -> seconds
    review_at: tuple[str, int] = ("127.0.0.1", 5002)  # --review-server's --host and --port


def run_matching(request: MatchingRequest, ask: Ask | None) -> None:
    """Run the stage; ``ask(question)`` asks the person (None: nobody can be asked)."""
    status = StatusFile(request.status_file)
    status.read()  # a malformed status file is reported before any work
    check_request(request)
    reporter = MatchingStatus(status, request.config.status_interval_s, request.show_progress, request.persons_dir)
    if request.mode == "undo":
        with Lease(request.persons_dir, "undoing the last merge").exclusive() as lease:
            return undo(request.persons_dir, reporter, lease)
    if request.mode == "forget":
        with Lease(request.persons_dir, "forgetting the answers").exclusive():
            return _forget(request.persons_dir)
    lease = _take_lease(request)
    if lease is None:
        return
    with lease:
        if request.mode != "dry-run":
            say_note(recover(request.persons_dir, lease=lease))
        folders = scan_folders(request.persons_dir)
        answers = load_answers(request.persons_dir)  # before any work: an unreadable file is one clear error
        start_times = _start_times(request, folders)
        with_images = _with_images(folders, request.persons_dir, reporter)
        if request.mode in ("ask", "each") and ask is None:
            raise InputError(
                "cannot ask for confirmation: standard input is not a terminal. Nothing was merged; "
                "pass --yes to merge, or --dry-run to only show the plan"
            )
        reporter.start(
            threshold=request.config.effective_threshold,
            backbone=request.config.backbone,
            folders_before=len(folders),
            dry_run=request.mode == "dry-run",
            device=request.config.device,
        )
        try:
            _compare_and_merge(request, folders, with_images, answers, reporter, lease, ask, start_times)
        except BaseException as exc:
            reporter.stopped(exc)
            raise


def check_request(request: MatchingRequest) -> None:
    """Mistakes that can be found before any work, so they never show as a failed stage."""
    require_persons_dir(request.persons_dir)
    weights = request.config.weights_file
    if weights is not None:
        check_weights_file(weights)
    if request.report is not None and not request.report.parent.is_dir():
        raise OutputError(f"cannot write the report {request.report}: folder {request.report.parent} does not exist")


def _take_lease(request: MatchingRequest) -> Lease | None:
    """The exclusive lease for a merge; for a dry run a shared one, or None when an interrupted
    merge is pending (said, and nothing else done: the folders are half merged)."""
    if request.mode != "dry-run":
        return Lease(request.persons_dir, "merging").exclusive()
    lease = Lease(request.persons_dir, "dry run").shared()
    waiting_for = pending(request.persons_dir)
    if waiting_for:
        lease.release()
        print(
            f"Dry run: {waiting_for}. Nothing was changed; run without --dry-run to do that, then --dry-run "
            f"again to see what else could be merged."
        )
        return None
    busy = [h for h in lease.others() if h.action == "tracking"]
    if busy:
        print(
            f"Provisional: {', '.join(h.describe() for h in busy)} is still adding to {request.persons_dir}, "
            f"so this plan may change."
        )
    return lease


def _start_times(request: MatchingRequest, folders: Sequence[Folder]) -> dict[str, float]:
    """``--start-times`` by the videos' paths as the folders' tracks give them (a name no folder's video
    has is a mistake found before any work); without it, the times the video files recorded."""
    videos = [t.video for f in folders for t in f.appearances]
    if not request.start_times:
        recorded = recorded_start_times(videos, Path.cwd())
        if recorded:
            print(f"Start times: as recorded in the {len(recorded)} video files (--start-times overrides them).")
        return recorded
    try:
        return match_videos(dict(request.start_times), videos)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _with_images(folders: Sequence[Folder], persons_dir: Path, reporter: MatchingStatus) -> list[Folder]:
    if not folders:
        raise InputError(f"no person folders in {persons_dir}: run obj_counting.py first")
    for folder in folders:
        if not folder.images:
            reporter.error(str(folder.path), "no images")
    unfinished = [f.name for f in folders if f.unfinished]
    if unfinished:  # a partial track: tracking its video again replaces the folder, which a merge would prevent
        message = (
            f"left out {plural(len(unfinished), 'folder')} that a killed tracking run never finished "
            f"({', '.join(unfinished)}): run obj_counting.py again to replace them"
        )
        log.warning("%s", message)
        reporter.error(str(persons_dir), message)
    with_images = [f for f in folders if f.images and not f.unfinished]
    if len(with_images) < 2:
        detail = "only one person folder has images" if with_images else "no person folder has images"
        raise InputError(f"{detail} in {persons_dir}: nothing to compare")
    return with_images


def _compare_and_merge(
    request: MatchingRequest,
    folders: list[Folder],
    with_images: list[Folder],
    answers: Answers,
    reporter: MatchingStatus,
    lease: Lease,
    ask: Ask | None,
    start_times: Mapping[str, float],
) -> None:
    embed(request, with_images, reporter)
    with reporter.step("comparing", len(with_images), "folder") as step:
        decision = decide(with_images, request.config, answers=answers, start_times=start_times)
        add_cross_camera_evidence(decision.proposals, start_times)
        if request.mode == "server":
            order_for_review(decision)  # the answers that matter most first, in the plan printed and on the page
        step.update(len(with_images))
    count = decision.count(len(folders))
    reporter.reid.update(
        force=True,
        threshold=decision.threshold,
        threshold_basis=decision.choice.basis if decision.choice else None,
        camera_normalised=decision.normalisation.applied,
        splits_proposed=len(decision.splits),
        groups_proposed=len(decision.proposals),
        errors=reporter.errors.entries,
        **count.as_status(),
        count_applies=False,  # until the plan is carried out (or changes nothing)
    )
    print("\n" + "\n".join(plan_lines(decision, request.config.backbone)))
    if answers:
        print(f"Your earlier answers ({shown_path(answers_path(request.persons_dir))}): {answers.describe()}.")
    print(f"{'After the merge' if decision.changes else 'Count'}: {count.describe()}.")
    if request.report is not None:
        write_review_page(request, decision, len(folders))
    planned = decision.changes
    if planned and request.mode == "server":
        from .review_server import serve_review  # the HTTP server only when asked for

        where, backbone = request.review_at, request.config.backbone
        serve = (request.persons_dir, request.undo_command, where, backbone, decision, with_images, len(folders))
        return serve_review(*serve, reporter, lease)
    if planned and request.mode == "each":
        decision = review_and_keep(request.persons_dir, decision, with_images, len(folders), reporter, ask)
    if not decision.changes or (request.mode != "each" and not _agreed(request, decision, reporter, ask)):
        reporter.finish(folders_after=len(folders), groups_merged=0, images_moved=0, count_applies=not planned)
        return
    apply_merge(request.persons_dir, request.undo_command, decision, len(folders), reporter, lease)


def embed(request: MatchingRequest, folders: list[Folder], reporter: MatchingStatus) -> None:
    """Every folder's embedding, from the cache where possible; unreadable crops are named once each."""
    from .features import FeatureExtractor  # loads TensorFlow only when the network is needed
    from .keys import model_key

    config = request.config
    cache = EmbeddingCache(request.persons_dir, model_key(config))
    total = sum(len(f.images) for f in folders)
    with reporter.step("extracting features", total) as step:
        extractors = []

        def load_extractor() -> FeatureExtractor:
            if request.ray_address is not None:
                from .cluster import RayExtractor

                reporter.processing.update(force=True, operation="starting Ray")
                extractors.append(RayExtractor(config, request.ray_address))
            else:
                reporter.processing.update(force=True, operation="loading model")
                extractors.append(FeatureExtractor(config))
            reporter.processing.update(force=True, operation="extracting features")
            return extractors[-1]

        try:
            unreadable = embed_folders(folders, load_extractor, cache, step.update)
        finally:
            for extractor in extractors:
                getattr(extractor, "close", lambda: None)()
    for path, message in unreadable.items():
        reporter.error(str(path), message)
    log.info("embedded %s (%d from the cache)", plural(total - len(unreadable), "image"), cache.hits)
    if cache.misses == 0:
        log.info("every crop was in the cache: the network was not loaded")
    readable = [f for f in folders if f.embedding is not None]
    if len(readable) < 2:
        detail = (f"only {readable[0].name} has" if readable else "no person folder has") + " a readable crop"
        raise InputError(
            f"{detail} in {request.persons_dir} ({plural(len(unreadable), 'unreadable file')}): nothing to compare"
        )


def write_review_page(request: MatchingRequest, decision: Decision, folders_total: int) -> None:
    from .report import write_report

    write_report(
        request.report,
        decision.proposals,
        decision.comparison.near_misses(decision.proposals, decision.threshold),
        splits=decision.splits,
        threshold=decision.threshold,
        threshold_basis=decision.choice.basis if decision.choice else None,
        cameras=decision.comparison.ground.said,
        backbone=request.config.backbone,
        persons_dir=request.persons_dir,
        folders_total=folders_total,
        dry_run=request.mode == "dry-run",
    )
    print(f"Review page: {request.report.resolve().as_uri()} (open it in a browser)")


def _forget(persons_dir: Path) -> None:
    copy = forget_answers(persons_dir)
    if copy is None:
        print(f"No answers to forget in {shown_path(persons_dir)}.")
    else:
        print(f"Your answers are forgotten; a copy is in {shown_path(copy)}.")


def _agreed(request: MatchingRequest, decision: Decision, reporter: MatchingStatus, ask: Ask | None) -> bool:
    if request.mode == "dry-run":
        print("Dry run: nothing was changed.")
        return False
    if request.mode == "yes":
        return True
    with reporter.waiting_for_answer(len(decision.proposals) + len(decision.splits)):
        answer = ask(question(decision)).strip().lower() in ("y", "yes")
    if not answer:
        print("Nothing was merged.")
    return answer
