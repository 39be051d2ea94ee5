"""The Markdown report of ``python -m reid.evaluation.video``: the count before the merge, per
folder, per ground-truth id, and the merge sweep."""

from __future__ import annotations

import statistics

from ..matching.linking import LINK_BONUS
from . import identity as ident
from .video_evaluation import MIN_VISIBLE_S, VideoEvaluation
from .video_merge import MIXING, MergeSweep, Outcome
from .video_summary import COUNT_HEADER, SplitScore, count_row, mixed_cell, score_splits, split_lines, wrong_lines

COVERAGE_TARGET = 0.90
PURE_TARGET = 0.95  # share of folders at least ident.PURE pure


def _f(value: float, digits: int = 3) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def _id(gt_id: int | None) -> str:
    return "-" if gt_id is None else str(gt_id)


def _verdict(value: float, target: float) -> str:
    return f">= {target}: " + ("-" if value != value else "met" if value >= target else "**missed**")


def format_report(ev: VideoEvaluation, title: str) -> str:
    """The Markdown report: the count before the merge, per folder, per GT id, and the merge sweep."""
    lines = [f"### {title}", "", f"Settings: {ev.settings}.", ""]
    lines.append("Wall time: " + ", ".join(f"{name} {s:.0f} s" for name, s in ev.seconds.items()) + ".")
    splits = score_splits(ev.folders, ev.default, ev.transfers) if ev.default else None
    lines += ["", "#### The count", "", *_count_table(ev, splits)]
    lines += ["", "#### Before the merge", "", *_before_table(ev), "", "#### Per folder", "", *_folder_table(ev)]
    lines += ["", "#### Per GT id", "", *_gt_table(ev), "", "#### The merge plan (no files moved)", ""]
    if not ev.merges:
        lines.append("No person folder: nothing to merge.")
        return "\n".join(lines) + "\n"
    lines += [f"Camera: {ev.normalisation.describe()}." if ev.normalisation else "", "", *_summary_table(ev)]
    if splits is not None:
        lines += ["", "#### Splits and identity switches", ""]
        lines += split_lines(splits, ev.per_video, ev.transfers_per_video)
        lines += ["", "#### Wrong merges of the default plan", "", *wrong_lines(ev.default)]
    for sweep in ev.merges:
        lines += ["", f"##### Sweep, {sweep.variant.describe()}", "", *_sweep_table(ev, sweep)]
    return "\n".join(lines) + "\n"


def _count_table(ev: VideoEvaluation, splits: SplitScore | None) -> list[str]:
    """The count after tracking and after the plan deeplearningg_reID.py makes by default."""
    names = " + ".join(clip.name for clip in ev.timeline.clips)
    switches = sum(int(scores["num_switches"]) for scores in ev.per_video.values())
    gt_persons = len(ev.timeline.gt_ids)
    row = count_row(names, ev.before, ev.default, ev.visible, gt_persons, switches, splits)
    note = (
        f"GT persons: ids annotated in the frames tracked; people covered: those in view >= {MIN_VISIBLE_S:g} s "
        f"that are the majority of some folder; mixed: folders with more than {MIXING:.0%} of their crops "
        f"on a second GT person (the worst share); after the merge: the plan `deeplearningg_reID.py` makes by default "
        f"({_default_words(ev)}); merge pairwise P / R: over the folders mostly on a GT person (of the folder pairs "
        "merged, the share of one person; of the pairs of one person, the share merged); wrong merges: merged "
        "folders joining folders of two GT persons; ID switches: "
        "motmetrics', each video alone; mixed folders split: by that plan."
    )
    return [COUNT_HEADER, "| " + " | ".join("---" for _ in COUNT_HEADER.split("|")[1:-1]) + " |", row, "", note]


def _default_words(ev: VideoEvaluation) -> str:
    if ev.default is None or ev.default.threshold is None:
        return "none: no folder"
    return f"threshold {ev.default.threshold:.2f}, motion evidence on, LINK_BONUS {LINK_BONUS:g}"


def _mixed(identities: list[ident.Identity]) -> str:
    return mixed_cell(identities)


def _summary_table(ev: VideoEvaluation) -> list[str]:
    """Before the merge, and after the plan at the default threshold, per variant."""
    lines = [
        "| plan | threshold | motion evidence | folders | folders per GT id (mean / max) | merged pairs P / R "
        f"| P / R on GT persons' folders | folders mixing > {MIXING:.0%} (worst) | of them caused by the merge "
        f"| groups >= {ident.PURE:.0%} pure | coverage | IDF1 | wrong merges |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows: list[tuple[str, str, Outcome]] = [("before the merge", "-", ev.before)]
    for sweep in ev.merges:
        evidence = f"{sweep.continuations} continuations, {sweep.vetoes} vetoes" if sweep.variant.motion else "off"
        rows.append((f"after, {sweep.variant.describe()}", evidence, sweep.default))
    if ev.default is not None and not any(ev.default is sweep.default for sweep in ev.merges):
        rows.append(("after, the default plan of deeplearningg_reID.py", "on", ev.default))
    for name, evidence, o in rows:
        c = ident.count_scores(o.identities, ev.visible)
        threshold = "-" if o.threshold is None else f"{o.threshold:.2f}"
        pairwise = "-" if o.threshold is None else f"{_f(o.pairwise[0])} / {_f(o.pairwise[1])}"
        on_gt = "-" if o.threshold is None else f"{_f(o.on_gt[0])} / {_f(o.on_gt[1])}"
        caused = "-" if o.threshold is None else str(o.caused_mixing)
        wrong = "-" if o.threshold is None else str(o.wrong_merges)
        lines.append(
            f"| {name} | {threshold} | {evidence} | {c.folders} | {_f(c.per_id[0], 2)} / {c.per_id[1]} | {pairwise} "
            f"| {on_gt} | {_mixed(o.identities)} | {caused} | {_f(c.pure_share)} | {_f(c.coverage)} "
            f"| {_f(o.mot['idf1'])} | {wrong} |"
        )
    return lines


def _before_table(ev: VideoEvaluation) -> list[str]:
    c = ident.count_scores(ev.before.identities, ev.visible)
    box_pure = ident.share_pure([s.boxes for s in ev.folders])
    mot, pure = ev.before.mot, f"{ident.PURE:.0%} pure"
    rows = [
        ("GT ids in the frames tracked", len({r.id for r in ev.gt}), ""),
        (f"GT ids visible >= {MIN_VISIBLE_S:g} s ({_visible_words(ev)})", c.targets, ""),
        ("persons counted (folders)", f"{c.folders} ({_tracks(ev.tracks)})", ""),
        ("folders per GT id (mean / max)", f"{_f(c.per_id[0], 2)} / {c.per_id[1]}", "1"),
        (
            f"coverage of GT ids visible >= {MIN_VISIBLE_S:g} s",
            f"{_f(c.coverage)} ({c.covered} of {c.targets})",
            _verdict(c.coverage, COVERAGE_TARGET),
        ),
        (
            f"folders >= {pure} (crops)",
            f"{_f(c.pure_share)} ({c.pure} of {c.folders})",
            _verdict(c.pure_share, PURE_TARGET),
        ),
        (f"folders >= {pure}, of those mostly on a GT person", f"{c.pure_on_gt} of {c.folders - c.off_gt}", ""),
        ("folders mostly on no GT person (> 50% of crops unmatched)", c.off_gt, ""),
        ("crops matching no GT box (unmatched)", f"{c.unmatched} of {c.boxes}", ""),
        (f"folders >= {pure} (all boxes of the track)", _f(box_pure), ""),
        (f"IDF1 / MOTA / ID switches{_timeline_words(ev)}", _mot(mot), ""),
        ("box recall / precision", f"{_f(mot['recall'])} / {_f(mot['precision'])}", ""),
    ]
    if len(ev.per_video) > 1:
        rows += [(f"IDF1 / MOTA / ID switches, {name} alone", _mot(m), "") for name, m in ev.per_video.items()]
    rows.append(("transfers (a track handed from one GT person to another)", sum(ev.transfers_per_video.values()), ""))
    return ["| measure | value | target |", "| --- | --- | --- |", *(f"| {m} | {v} | {t} |" for m, v, t in rows)]


def _mot(mot: dict[str, float]) -> str:
    return f"{_f(mot['idf1'])} / {_f(mot['mota'])} / {mot['num_switches']:.0f}"


def _visible_words(ev: VideoEvaluation) -> str:
    return f"{ev.min_frames} GT frames" if len(ev.timeline.clips) == 1 else "in all the videos together"


def _timeline_words(ev: VideoEvaluation) -> str:
    """The scores over several videos are those of one timeline: one person, one identity, in every camera."""
    return "" if len(ev.timeline.clips) == 1 else " (all videos as one timeline: one identity per person)"


def _tracks(tracks: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in tracks.items())


def _folder_table(ev: VideoEvaluation) -> list[str]:
    several = len(ev.timeline.clips) > 1  # then each folder's video is said
    lines = [
        f"| folder |{' video |' if several else ''} track frames (from 0) | crops | GT id | purity | unmatched "
        "| boxes | box GT id | box purity | boxes unmatched |",
        "| --- |" + " --- |" * (10 if several else 9),
    ]
    for s in ev.folders:
        c, b = s.crops, s.boxes
        lines.append(
            f"| {s.folder.name} |{f' {s.video} |' if several else ''} {s.span[0]}-{s.span[1]} | {c.boxes} "
            f"| {_id(c.majority)} | {c.purity:.2f} | {c.unmatched} | {b.boxes} | {_id(b.majority)} | {b.purity:.2f} "
            f"| {b.unmatched} |"
        )
    return lines


def _gt_table(ev: VideoEvaluation) -> list[str]:
    lines = [
        f"| GT id | GT frames | visible >= {MIN_VISIBLE_S:g} s | median height px | tracked share | folders |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for gid, rows in sorted(ident.by_id(ev.gt).items()):
        names = ", ".join(s.folder.name for s in ev.folders if s.crops.majority == gid) or "**none**"
        lines.append(
            f"| {gid} | {len(rows)} | {'yes' if gid in ev.visible else 'no'} "
            f"| {statistics.median(r.h for r in rows):.0f} | {_f(ev.tracked.get(gid, 0.0), 2)} | {names} |"
        )
    return lines


def _sweep_table(ev: VideoEvaluation, sweep: MergeSweep) -> list[str]:
    lines = [
        "| threshold | splits | folders after | pairs merged (off-GT) | pairwise P | pairwise R | P / R on GT persons' "
        f"folders | folders per GT id (mean / max) | coverage | groups >= {ident.PURE:.0%} pure | mixing > "
        f"{MIXING:.0%} (worst) | caused by the merge | IDF1 | MOTA | ID switches | wrong merges |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in [*sweep.rows, sweep.default]:
        c, (precision, recall) = ident.count_scores(o.identities, ev.visible), o.pairwise
        mark = " (default)" if o is sweep.default else ""
        lines.append(
            f"| {o.threshold:.2f}{mark} | {o.splits} | {c.folders} | {o.pairs[0]} ({o.pairs[1]}) | {_f(precision)} "
            f"| {_f(recall)} | {_f(o.on_gt[0])} / {_f(o.on_gt[1])} | {_f(c.per_id[0], 2)} / {c.per_id[1]} "
            f"| {_f(c.coverage)} | {_f(c.pure_share)} | {_mixed(o.identities)} | {o.caused_mixing} "
            f"| {_f(o.mot['idf1'])} | {_f(o.mot['mota'])} | {o.mot['num_switches']:.0f} | {o.wrong_merges} |"
        )
    return lines
