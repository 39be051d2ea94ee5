"""Measure how well the merge stage groups person folders, on any identity-labelled crops.

    python -m reid.evaluate --labelled DIR [--backbone resnet50] [--weights imagenet|PATH|none]

``DIR`` holds one folder per identity; a file name may start with a camera, ``<cam>_...``.
Each identity's crops are cut into person folders the way tracking fragments people
(``--fragment-size`` crops each, within each camera), so one identity becomes several
folders within and across cameras. Then the same code as ``deeplearningg_reID.py`` embeds
them and groups them at each threshold of a sweep, and the result is scored with pairwise
and BCubed precision and recall (see ``reid.metrics``). Use it to choose ``--threshold``
for your own cameras.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .cli import ArgumentParser, add_logging_flags, run_reporting_errors, setup_logging
from .config import DEFAULT_THRESHOLDS, IMAGE_SUFFIXES
from .errors import InputError
from .grouping import folder_embedding, group_folders
from .metrics import Scores, labels_from_groups, score

log = logging.getLogger(__name__)

_CAMERA = re.compile(r"^([^_]+)_")
REQUIRED_PRECISION = 0.99


@dataclass(frozen=True)
class Fragment:
    identity: str
    camera: str
    images: tuple[Path, ...]


@dataclass
class SweepRow:
    threshold: float
    folders_after: int
    scores: Scores
    recall_within_camera: float
    recall_across_cameras: float


@dataclass
class Evaluation:
    fragments: list[Fragment]
    rows: list[SweepRow] = field(default_factory=list)
    default: SweepRow | None = None

    @property
    def identities(self) -> int:
        return len({f.identity for f in self.fragments})

    def lowest_threshold_with_precision(self, required: float = REQUIRED_PRECISION) -> SweepRow | None:
        """The lowest swept threshold from which on every higher one keeps pairwise precision >= required."""
        found = None
        for row in sorted(self.rows, key=lambda r: r.threshold, reverse=True):
            if row.scores.pairwise_precision < required:
                break
            found = row
        return found


def fragment(labelled: Path, size: int) -> list[Fragment]:
    """Cut each identity's crops into folders of ``size`` crops, separately per camera."""
    labelled = Path(labelled)
    if not labelled.is_dir():
        raise InputError(f"{labelled} is not a folder of identity folders")
    fragments = []
    for identity in sorted(p for p in labelled.iterdir() if p.is_dir() and not p.name.startswith(".")):
        by_camera: dict[str, list[Path]] = {}
        for image in sorted(identity.iterdir()):
            if image.suffix.lower() in IMAGE_SUFFIXES:
                match = _CAMERA.match(image.name)
                by_camera.setdefault(match.group(1) if match else "-", []).append(image)
        for camera, images in sorted(by_camera.items()):
            for start in range(0, len(images), size):
                fragments.append(Fragment(identity.name, camera, tuple(images[start:start + size])))
    if len({f.identity for f in fragments}) < 2:
        raise InputError(f"{labelled} needs at least two identity folders with images")
    return fragments


def pair_recall(truth: Sequence[str], cameras: Sequence[str], predicted: Sequence[int], across: bool) -> float:
    """Recall over the true pairs whose cameras differ (``across``) or match."""
    hits = total = 0
    for i in range(len(truth)):
        for j in range(i + 1, len(truth)):
            if truth[i] == truth[j] and (cameras[i] != cameras[j]) == across:
                total += 1
                hits += predicted[i] == predicted[j]
    return hits / total if total else float("nan")


def evaluate(fragments: list[Fragment], embed: Callable[[list[Path]], tuple[np.ndarray, dict]],
             thresholds: Sequence[float], default_threshold: float) -> Evaluation:
    images = [image for f in fragments for image in f.images]
    vectors, errors = embed(images)
    by_image = dict(zip([i for i in images if i not in errors], vectors))
    kept = [f for f in fragments if any(i in by_image for i in f.images)]
    embeddings = np.stack([folder_embedding(np.stack([by_image[i] for i in f.images if i in by_image]))
                           for f in kept])
    truth = [f.identity for f in kept]
    cameras = [f.camera for f in kept]
    result = Evaluation(kept)

    def row(threshold: float) -> SweepRow:
        predicted = labels_from_groups(len(kept), group_folders(embeddings, threshold))
        return SweepRow(threshold, len(set(predicted)), score(truth, predicted),
                        pair_recall(truth, cameras, predicted, across=False),
                        pair_recall(truth, cameras, predicted, across=True))

    result.rows = [row(float(t)) for t in thresholds]
    result.default = row(default_threshold)
    return result


def format_report(evaluation: Evaluation, title: str) -> str:
    """A Markdown report: the sweep, the default threshold, the precision-0.99 threshold."""
    lines = [f"### {title}", "",
             f"{len(evaluation.fragments)} person folders of {evaluation.identities} identities.", "",
             "| threshold | folders after | pairwise P | pairwise R | BCubed P | BCubed R | BCubed F1 "
             "| R within camera | R across cameras |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in [*evaluation.rows, evaluation.default]:
        mark = " (default)" if r is evaluation.default else ""
        s = r.scores
        lines.append(f"| {r.threshold:.2f}{mark} | {r.folders_after} | {s.pairwise_precision:.3f} "
                     f"| {s.pairwise_recall:.3f} | {s.bcubed_precision:.3f} | {s.bcubed_recall:.3f} "
                     f"| {s.bcubed_f1:.3f} | {_fmt(r.recall_within_camera)} | {_fmt(r.recall_across_cameras)} |")
    best = evaluation.lowest_threshold_with_precision()
    lines.append("")
    if best is None:
        lines.append(f"No swept threshold reaches pairwise precision {REQUIRED_PRECISION}.")
    else:
        note = " (it merges nothing)" if best.scores.pairwise_recall == 0 else ""
        lines.append(f"Pairwise precision stays >= {REQUIRED_PRECISION} from threshold {best.threshold:.2f} up, "
                     f"with pairwise recall {best.scores.pairwise_recall:.3f}{note}.")
    return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:.3f}"


def parse_thresholds(text: str) -> list[float]:
    """``0.5:0.99:0.01`` (start:stop:step, stop included) or ``0.8,0.9``."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if step <= 0:
                raise ValueError
            return [round(x, 6) for x in np.arange(start, stop + step / 2, step)]
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"--thresholds must look like 0.5:0.99:0.01 or 0.8,0.9, not {text!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m reid.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--labelled", type=Path, required=True, metavar="DIR",
                        help="one folder per identity; file names may start with a camera: <cam>_...")
    parser.add_argument("--backbone", choices=sorted(DEFAULT_THRESHOLDS), default="resnet50",
                        help="as for deeplearningg_reID.py (default: %(default)s)")
    parser.add_argument("--weights", default="imagenet", help="imagenet, PATH or none (default: %(default)s)")
    parser.add_argument("--input-size", default="256x128", metavar="HxW", help="(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32, help="(default: %(default)s)")
    parser.add_argument("--fragment-size", type=int, default=4,
                        help="crops per simulated person folder (default: %(default)s)")
    parser.add_argument("--thresholds", default="0.50:0.98:0.02", help="sweep, start:stop:step (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    if args.fragment_size < 1:
        parser.error("--fragment-size must be at least 1")
    size = re.fullmatch(r"(\d+)x(\d+)", args.input_size)
    if not size:
        parser.error(f"--input-size must look like 256x128, not {args.input_size!r}")
    args.size = (int(size.group(1)), int(size.group(2)))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)

    def run() -> int:
        from .features import FeatureExtractor

        thresholds = parse_thresholds(args.thresholds)
        fragments = fragment(args.labelled, args.fragment_size)
        extractor = FeatureExtractor(args.backbone, args.weights, args.size, args.batch_size)
        evaluation = evaluate(fragments, extractor.embed_files, thresholds, DEFAULT_THRESHOLDS[args.backbone])
        weights = args.weights if args.weights in ("imagenet", "none") else Path(args.weights).name
        report = format_report(evaluation, f"{args.backbone}, weights {weights}, {args.labelled.name}, "
                                           f"{args.fragment_size} crops per folder")
        print(report)
        if args.output:
            args.output.write_text(report, encoding="utf-8")
        return 0

    return run_reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
