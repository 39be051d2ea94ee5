"""How much the person's answers help: a reviewer answers ``--review-each``'s questions from the ground truth.

    python -m reid.evaluation.review --tracked DIR --video clip.mp4 --gt gt.txt --model yolov8n_int8.tflite \\
        --backbone reid-0287 --weights ... [--answers 30] [--every 5] [--output curve.md]

It takes a run ``python -m reid.evaluation.video --keep DIR`` tracked (the flags are that command's,
``--tracked`` required), asks as ``reviewer.py`` does, and reports the count after every ``--every``
answers beside the count with none: the folders as reviewed, the folders per GT person, mixed folders,
folders joining two people, each camera's threshold as the next plan learns it, and the folders the
next plan would leave if it were accepted as it is.
"""

from __future__ import annotations

import argparse
import functools
import sys

from ..core.cli import run_reporting_errors, setup_logging
from ..core.errors import InputError
from ..core.paths import shown_path
from ..matching.folders import scan_folders
from . import video, video_tracking
from .reviewer import Point, review
from .timeline import Timeline
from .video_evaluation import folders_of, read_gt, start_times_of
from .video_folders import score_folders


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    own = argparse.ArgumentParser(prog="python -m reid.evaluation.review", add_help=False)
    own.add_argument("--answers", type=int, default=30, help="answers to give (default: %(default)s)")
    own.add_argument("--every", type=int, default=5, help="report the count after every N answers")
    own.add_argument(
        "--per-plan",
        type=int,
        metavar="N",
        help="make the plan again after every N answers (default: ask each plan through, as --review-each does)",
    )
    mine, rest = own.parse_known_args(argv)
    if {"-h", "--help"} & set(rest):  # this command's own flags first, then those of reid.evaluation.video
        print(__doc__.split("\n\n")[0] + "\n\n" + own.format_help().split("\n", 2)[2])
    args = video.parse_args(rest)
    if args.tracked is None:
        raise SystemExit("python -m reid.evaluation.review: --tracked DIR is required (a run --keep DIR kept)")
    if mine.answers < 0 or mine.every < 1:
        raise SystemExit("python -m reid.evaluation.review: --answers must be >= 0 and --every >= 1")
    args.answers, args.every, args.per_plan = mine.answers, mine.every, mine.per_plan
    return args


def curve(args: argparse.Namespace) -> tuple[list[Point], int]:
    """The simulated review of the ``--tracked`` run, and the number of GT persons it shows."""
    from ..matching.cache import EmbeddingCache
    from ..matching.embedding import embed_folders
    from ..matching.features import load_extractor
    from ..matching.keys import model_key

    video.check_inputs(args)
    run = video_tracking.load(args.tracked)
    timeline = Timeline([run.find(v).clip(run.folder, read_gt(gt)) for v, gt in zip(args.video, args.gt, strict=True)])
    scored = score_folders(folders_of(scan_folders(run.persons), timeline, args.tracked), timeline)
    if not scored:
        raise InputError(f"no person folder of {shown_path(args.tracked)} is of the videos named")
    folders = [s.folder for s in scored]
    cache = EmbeddingCache(run.persons, model_key(args.matching))
    embed_folders(folders, functools.cache(lambda: load_extractor(args.matching)), cache)
    truth = {image: s.by_file.get(image.name) for s in scored for image in s.folder.images}
    start_times = start_times_of(args, folders)
    motion = not args.no_motion
    points = review(folders, truth, args.matching, args.answers, args.every, motion, args.per_plan, start_times)
    return points, len(timeline.visible)


def format_curve(points: list[Point], visible: int, title: str) -> str:
    """The curve as a Markdown table."""
    lines = [
        f"### {title}",
        "",
        f"GT persons visible for at least 2 s: {visible}.",
        "",
        "| answers | folders | folders per GT person (max) | mixed folders | folders joining two people "
        "| threshold per camera | the next plan accepted as it is: folders, joining two people |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in points:
        cameras = ", ".join(f"{shown_path(c).rsplit('/', 1)[-1]} {t:.3f}" for c, t in sorted(p.thresholds.items()))
        lines.append(
            f"| {p.answers} | {p.folders} | {p.per_person[0]:.2f} ({p.per_person[1]}) | {p.mixed} | {p.wrong_merges} "
            f"| {cameras or f'{p.threshold:.3f} (default)'} | {p.plan_folders}, {p.plan_wrong_merges} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)

    def run() -> int:
        points, visible = curve(args)
        report = format_curve(points, visible, " + ".join(v.name for v in args.video))
        print(report)
        if args.output:
            args.output.write_text(report, encoding="utf-8")
        return 0

    return run_reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
