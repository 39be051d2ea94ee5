"""Measure how well the merge stage groups person folders, on any identity-labelled crops.

    python -m reid.evaluation.crops --labelled DIR [--backbone resnet50] [--weights imagenet|PATH|none]

``DIR`` holds one folder per identity; a file name may start with a camera, ``<cam>_...``.
Each identity's crops are cut into person folders the way tracking fragments people
(``--fragment-size`` crops each, within each camera), so one identity becomes several
folders within and across cameras. Then the same code as ``deeplearningg_reID.py`` embeds
them and groups them at each threshold of a sweep, and the result is scored with pairwise
and BCubed precision and recall (see ``scores.py``). Use it to choose ``--threshold``
for your own cameras.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.cli import (
    ArgumentParser,
    Flag,
    add_config_flags,
    add_input_size_flag,
    add_logging_flags,
    config_from_args,
    input_size_fields,
    run_reporting_errors,
    setup_logging,
)
from ..core.config import DEFAULT_THRESHOLDS, IMAGE_SUFFIXES, MatchingConfig
from ..core.errors import InputError
from ..matching.embedding import Extractor, NoCache, embed_folders
from ..matching.folders import Folder
from ..matching.proposals import Comparison
from .scores import Scores, labels_from_groups, score

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
                fragments.append(Fragment(identity.name, camera, tuple(images[start : start + size])))
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


def evaluate(
    fragments: list[Fragment],
    load_extractor: Callable[[], Extractor],
    thresholds: Sequence[float],
    default_threshold: float,
) -> Evaluation:
    """Embed and group the fragments exactly as the merge stage does, at each threshold."""
    folders = [
        Folder(f"{f.identity}/{f.camera}/{n}", f.images[0].parent, list(f.images)) for n, f in enumerate(fragments)
    ]
    embed_folders(folders, load_extractor, NoCache())
    kept = [
        (fragment, folder) for fragment, folder in zip(fragments, folders, strict=True) if folder.embedding is not None
    ]
    comparison = Comparison([folder for _, folder in kept])
    truth = [fragment.identity for fragment, _ in kept]
    cameras = [fragment.camera for fragment, _ in kept]
    result = Evaluation([fragment for fragment, _ in kept])

    def row(threshold: float) -> SweepRow:
        predicted = labels_from_groups(len(kept), comparison.groups(threshold))
        return SweepRow(
            threshold,
            len(set(predicted)),
            score(truth, predicted),
            pair_recall(truth, cameras, predicted, across=False),
            pair_recall(truth, cameras, predicted, across=True),
        )

    result.rows = [row(float(t)) for t in thresholds]
    result.default = row(default_threshold)
    return result


def format_report(evaluation: Evaluation, title: str) -> str:
    """A Markdown report: the sweep, the default threshold, the precision-0.99 threshold."""
    lines = [
        f"### {title}",
        "",
        f"{len(evaluation.fragments)} person folders of {evaluation.identities} identities.",
        "",
        "| threshold | folders after | pairwise P | pairwise R | BCubed P | BCubed R | BCubed F1 "
        "| R within camera | R across cameras |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in [*evaluation.rows, evaluation.default]:
        mark = " (default)" if r is evaluation.default else ""
        s = r.scores
        lines.append(
            f"| {r.threshold:.2f}{mark} | {r.folders_after} | {s.pairwise_precision:.3f} "
            f"| {s.pairwise_recall:.3f} | {s.bcubed_precision:.3f} | {s.bcubed_recall:.3f} "
            f"| {s.bcubed_f1:.3f} | {_fmt(r.recall_within_camera)} | {_fmt(r.recall_across_cameras)} |"
        )
    best = evaluation.lowest_threshold_with_precision()
    lines.append("")
    if best is None:
        lines.append(f"No swept threshold reaches pairwise precision {REQUIRED_PRECISION}.")
    else:
        note = " (it merges nothing)" if best.scores.pairwise_recall == 0 else ""
        lines.append(
            f"Pairwise precision stays >= {REQUIRED_PRECISION} from threshold {best.threshold:.2f} up, "
            f"with pairwise recall {best.scores.pairwise_recall:.3f}{note}."
        )
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
    parser = ArgumentParser(prog="python -m reid.evaluation.crops", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--labelled",
        type=Path,
        required=True,
        metavar="DIR",
        help="one folder per identity; file names may start with a camera: <cam>_...",
    )
    add_config_flags(parser, MatchingConfig(), FLAGS)
    add_input_size_flag(parser)
    parser.add_argument(
        "--fragment-size", type=int, default=4, help="crops per simulated person folder (default: %(default)s)"
    )
    parser.add_argument("--thresholds", default="0.50:0.98:0.02", help="sweep, start:stop:step (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    add_logging_flags(parser)
    args = parser.parse_args(argv)
    if args.fragment_size < 1:
        parser.error("--fragment-size must be at least 1")
    args.config = config_from_args(parser, MatchingConfig, args, FLAGS, **input_size_fields(parser, args))
    return args


FLAGS = [
    Flag("--backbone", "backbone", "as for deeplearningg_reID.py", choices=sorted(DEFAULT_THRESHOLDS)),
    Flag("--weights", "weights", "imagenet, PATH or none", "imagenet|PATH|none"),
    Flag("--batch-size", "batch_size", "images per forward pass", "N"),
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)

    def run() -> int:
        from ..matching.features import FeatureExtractor

        config: MatchingConfig = args.config
        thresholds = parse_thresholds(args.thresholds)
        fragments = fragment(args.labelled, args.fragment_size)
        evaluation = evaluate(fragments, lambda: FeatureExtractor(config), thresholds, config.effective_threshold)
        weights = config.weights if config.weights in ("imagenet", "none") else Path(config.weights).name
        report = format_report(
            evaluation,
            f"{config.backbone}, weights {weights}, {args.labelled.name}, {args.fragment_size} crops per folder",
        )
        print(report)
        if args.output:
            args.output.write_text(report, encoding="utf-8")
        return 0

    return run_reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
