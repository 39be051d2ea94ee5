"""The Markdown report of ``python -m reid.evaluation.crops``: the sweep, and the held-out threshold choice."""

from __future__ import annotations

import statistics

from .calibration import RECALL_MARGIN, TARGET_RECALL, HeldOut, HoldOutResult, meets
from .sweep import REQUIRED_PRECISION, Evaluation, SweepRow


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:.3f}"


def _mode(applied: bool) -> str:
    return "per camera" if applied else "raw"


def format_report(evaluation: Evaluation, title: str) -> str:
    """A Markdown report: the sweep, the default threshold, the precision-0.99 threshold."""
    lines = [
        f"### {title}",
        "",
        f"{len(evaluation.fragments)} person folders of {evaluation.identities} identities; "
        f"{evaluation.normalisation.describe()}.",
        "",
        "| threshold | folders after | pairwise P | pairwise R | BCubed P | BCubed R | BCubed F1 "
        "| R within camera | R across cameras |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = evaluation.rows + ([evaluation.default] if evaluation.default else [])
    for r in rows:
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
        note = " (it merges nothing: not a calibrated threshold)" if best.scores.pairwise_recall == 0 else ""
        lines.append(
            f"Pairwise precision stays >= {REQUIRED_PRECISION} from threshold {best.threshold:.2f} up, "
            f"with pairwise recall {best.scores.pairwise_recall:.3f}{note} (all identities: picked after the fact)."
        )
    return "\n".join(lines) + "\n"


RULE = (
    f"Rule, on the choosing half only: the lowest threshold from which pairwise precision stays >= "
    f"{REQUIRED_PRECISION} (the precision edge), raised to the highest threshold that still has pairwise recall "
    f">= {TARGET_RECALL + RECALL_MARGIN:.2f} (target {TARGET_RECALL} + margin {RECALL_MARGIN}) when there is one; "
    "a threshold where nothing merges is not calibrated."
)


def _pr(row: SweepRow | None) -> str:
    return "-" if row is None else f"{row.scores.pairwise_precision:.3f} / {row.scores.pairwise_recall:.3f}"


def _run_line(run: HeldOut) -> str:
    c = run.choice
    chosen = "none" if c.threshold is None else f"{c.threshold:.2f}" + ("" if c.calibrated else " (not calibrated)")
    edge = "-" if c.edge is None else f"{c.edge.threshold:.2f}"
    modes = f"{_mode(run.chosen_on.applied)} / {_mode(run.reported_on.applied)}"
    return (
        f"| {run.seed} | {run.direction} | {run.identities[0]} / {run.identities[1]} | {modes} | {edge} "
        f"| {chosen} ({c.by}) | {_pr(c.row)} | {_pr(run.reported)} | {'yes' if run.met else 'no'} |"
    )


def format_held_out(result: HoldOutResult) -> str:
    """The held-out choice per seed and direction, the default to set, and the folder-size check."""
    lines = [
        f"#### Threshold chosen on half of the identities, reported on the other half ({result.fragment_size} "
        "crops per folder)",
        "",
        RULE,
        "",
        "| seed | direction | identities choosing / held out | camera normalisation | precision edge "
        "| chosen threshold | choosing half: P / R | held-out half: P / R | target met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(_run_line(run) for run in result.runs),
        "",
        _summary(result.runs, [run.reported for run in result.runs]),
        "",
        _default_line(result),
    ]
    if any(r.chosen_on.applied != r.reported_on.applied for r in result.runs):
        lines += ["", "Warning: some held-out halves ran in another mode than their threshold was chosen in."]
    if any(run.sizes for run in result.runs):
        lines += ["", *_size_table(result)]
    return "\n".join(lines) + "\n"


def _summary(runs: list[HeldOut], rows: list[SweepRow | None]) -> str:
    found = [(run, row) for run, row in zip(runs, rows, strict=True) if row is not None and run.choice.calibrated]
    met = sum(meets(row) for _, row in found)
    text = (
        f"Target (held-out pairwise precision >= {REQUIRED_PRECISION} and recall >= {TARGET_RECALL}) met in "
        f"{met} of {len(runs)} held-out evaluations"
    )
    if not found:
        return text + " (no calibrated choice)."
    precision = [row.scores.pairwise_precision for _, row in found]
    recall = [row.scores.pairwise_recall for _, row in found]
    return (
        f"{text}; held-out precision mean {statistics.fmean(precision):.3f} (min {min(precision):.3f}), "
        f"recall mean {statistics.fmean(recall):.3f} (min {min(recall):.3f})."
    )


def _default_line(result: HoldOutResult) -> str:
    first = result.runs[0] if result.runs else None
    if first is None or result.default is None:
        return "Default: none; no threshold keeps pairwise precision >= 0.99 on a choosing half."
    single = (
        f"seed {first.seed}, {first.direction}: {first.choice.threshold:.2f}, held-out P / R {_pr(first.reported)}"
        + ("" if first.choice.calibrated else " (not calibrated: nothing merges)")
    )
    n, calibrated = len(result.runs), result.calibrated
    verdict = "" if calibrated * 2 > n else " **not calibrated**: on most choosing halves nothing merges there;"
    return (
        f"Default ({_mode(first.chosen_on.applied)} embeddings): **{result.default:.2f}**, the median of the {n} "
        f"choices (each made on one half only; {calibrated} of them merge something);{verdict} the first split "
        f"alone: {single}."
    )


def _size_table(result: HoldOutResult) -> list[str]:
    runs = [run for run in result.runs if run.sizes]
    lines = [
        f"#### Folder sizes: each held-out half at its own chosen threshold ({len(runs)} evaluations)",
        "",
        "| crops per folder | folders | camera normalisation | held-out P mean (min) | held-out R mean (min) "
        "| R across cameras mean | target met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k, size in enumerate(runs[0].sizes):
        rows = [run.sizes[k] for run in runs]
        precision = [r.row.scores.pairwise_precision for r in rows]
        recall = [r.row.scores.pairwise_recall for r in rows]
        across = [r.row.recall_across_cameras for r in rows]
        name = "mixed (1 to all, at random)" if size.size == "mixed" else str(size.size)
        modes = {_mode(r.normalisation.applied) for r in rows}
        if any(r.normalisation.applied != run.chosen_on.applied for r, run in zip(rows, runs, strict=True)):
            name += " (partly in another mode: not comparable)"
        met = sum(meets(r.row) for r in rows)
        lines.append(
            f"| {name} | {size.folders} | {' / '.join(sorted(modes))} | {statistics.fmean(precision):.3f} "
            f"({min(precision):.3f}) | {statistics.fmean(recall):.3f} ({min(recall):.3f}) "
            f"| {_fmt(statistics.fmean(across))} | {met} of {len(rows)} |"
        )
    lines += [
        "",
        f"Each (identity, camera) has at most {result.largest} crops here, so larger folders cannot be made from "
        "these crops (tracking makes folders of up to 40); folder similarity is the mean over all pairs of crops, "
        "so its scale does not depend on the folder size.",
    ]
    return lines
