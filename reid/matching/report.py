"""The merge review page: one self-contained HTML file to judge a merge plan before answering.

One row per proposed group (a contact sheet of each folder, its crop count and its
similarity to the survivor), then the near-misses. Thumbnails are inlined as small JPEGs, so
the page opens from disk in any browser, copied anywhere, with no network and no script.
``--review-server`` serves the same page with a form to answer each proposal (``review_controls.py``).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from ..core.errors import InputError, OutputError
from ..core.files import atomic_write_bytes
from .folders import Folder
from .images import decode_image
from .proposals import NearMiss, ProposedGroup
from .review_controls import choice_html, form_end, form_start, leave_out_html
from .splitting import ProposedSplit, describe

THUMB_HEIGHT = 112
CROPS_PER_FOLDER = 6

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fafafa; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.summary { color: #555; margin-bottom: 1rem; }
.group { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6rem .8rem; margin: .8rem 0; }
.group h3 { margin: .1rem 0 .5rem; font-size: 1rem; }
.folder { display: inline-block; vertical-align: top; margin: 0 1.2rem .4rem 0; }
.folder .name { font-weight: 600; } .folder .meta { color: #666; font-size: .85rem; }
.sheet img { height: THUMBpx; margin: 2px 2px 0 0; border-radius: 3px; background: #eee; }
.survivor .name::after { content: " (kept)"; color: #2a7; font-weight: 400; }
.score { font-variant-numeric: tabular-nums; }
.reason { color: #a60; }
""".replace("THUMB", str(THUMB_HEIGHT))


def thumbnail(path: Path) -> str | None:
    """A small inline JPEG of an image, or None if it cannot be read."""
    try:
        image = decode_image(path)
    except (InputError, OSError):
        return None
    scale = THUMB_HEIGHT / image.shape[0]
    small = cv2.resize(image, (max(1, round(image.shape[1] * scale)), THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii") if ok else None


def spread(items: Sequence[Path], count: int) -> list[Path]:
    """Up to ``count`` items evenly spread over ``items`` (first and last included).

    >>> [p for p in spread(list(range(10)), 4)]
    [0, 3, 6, 9]
    """
    if len(items) <= count:
        return list(items)
    return [items[round(k * (len(items) - 1) / (count - 1))] for k in range(count)]


def _folder_html(folder: Folder, note: str, crops: int, survivor: bool = False, control: str = "") -> str:
    images = []
    for path in spread(folder.images, crops):
        uri = thumbnail(path)
        if uri:
            images.append(f'<img src="{uri}" alt="{html.escape(path.name)}" title="{html.escape(path.name)}">')
    count = len(folder.images)
    return (
        f'<div class="folder{" survivor" if survivor else ""}" data-folder="{html.escape(folder.name)}">'
        f'<div class="name">{html.escape(folder.name)}</div>'
        f'<div class="meta">{count} crop{"" if count == 1 else "s"}{html.escape(note)}</div>'
        f'<div class="sheet">{"".join(images) or "<em>no readable crop</em>"}</div>{control}</div>'
    )


def _similarity(a: Folder, b: Folder) -> float:
    return float(np.dot(a.embedding, b.embedding))


def render(
    proposals: Sequence[ProposedGroup],
    misses: Sequence[NearMiss],
    *,
    threshold: float,
    backbone: str,
    persons_dir: Path,
    threshold_basis: str | None = None,
    cameras: Sequence[str] = (),
    folders_total: int,
    dry_run: bool = False,
    splits: Sequence[ProposedSplit] = (),
    crops_per_folder: int = CROPS_PER_FOLDER,
    review_token: str | None = None,
) -> str:
    """The page; with ``review_token`` (``--review-server``) it is also a form that answers each proposal."""
    answering = review_token is not None
    involved = sum(len(g.folders) for g in proposals)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Proposed merges</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Proposed merges</h1>",
        f'<div class="summary">{html.escape(str(persons_dir))}: {folders_total} person folders; '
        f"{len(proposals)} group{'' if len(proposals) == 1 else 's'} proposed ({involved} folders), "
        f"{html.escape(backbone)} features, threshold {threshold:.3f}; {now}. "
        f"{_what_happens(dry_run, answering)}</div>",
    ]
    if threshold_basis:
        parts.append(f'<div class="summary">Threshold: {html.escape(threshold_basis)}.</div>')
    parts += [f'<div class="summary">Cameras: {html.escape(said)}.</div>' for said in cameras]
    if answering:
        parts.append(form_start(review_token))
    if splits:
        parts.append(
            '<h2>Proposed splits</h2><p class="summary">A tracker sometimes hands one person\'s track to '
            "another: these folders hold two people one after the other. The later part becomes a new "
            "folder (and may be merged below).</p>"
        )
        parts += [_split_html(n, split, crops_per_folder, answering) for n, split in enumerate(splits, 1)]
    if proposals:
        parts.append("<h2>Proposed merges</h2>")
    elif not splits:
        parts.append(
            "<p>No two folders are similar enough: nothing to merge. The most similar pairs are below, "
            "to show where the threshold sits.</p>"
        )
    parts += [_group_html(number, group, crops_per_folder, answering) for number, group in enumerate(proposals, 1)]
    if answering:
        parts.append(form_end(len(splits) + len(proposals)))
    parts.append(_near_misses_html(misses))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _group_html(number: int, group: ProposedGroup, crops_per_folder: int, answering: bool = False) -> str:
    survivor = group.survivor

    def control(folder: Folder) -> str:
        return leave_out_html(f"leave-{number}", folder.name) if answering else ""

    parts = [
        f'<div class="group" id="group-{number}"><h3>{number}. {html.escape(survivor.name)} '
        f"&larr; {html.escape(', '.join(m.name for m in group.members))} "
        f'<span class="score">(similarity min {group.min_similarity:.3f}, mean '
        f"{group.mean_similarity:.3f})</span></h3>",
        choice_html(f"group-{number}", f"Merge group {number}?") if answering else "",
        _folder_html(survivor, "", crops_per_folder, survivor=True, control=control(survivor)),
    ]
    for member in group.members:
        note = f", {_similarity(member, survivor):.3f} to {survivor.name}"
        parts.append(_folder_html(member, note, crops_per_folder, control=control(member)))
    parts += [f'<p class="reason">{html.escape(line)}</p>' for line in group.evidence]
    parts.append("</div>")
    return "\n".join(parts)


def _split_html(number: int, split: ProposedSplit, crops_per_folder: int, answering: bool = False) -> str:
    parts = [f'<div class="group split" id="split-{number}"><h3>{html.escape(describe(split))}</h3>']
    if answering:
        parts.append(choice_html(f"split-{number}", f"Split {split.folder.name}?"))
    for part in split.parts:
        kept = part is split.kept
        if part.name in split.owners:
            note = f", goes to {split.owners[part.name]}"
        else:
            note = " (stays)" if kept else f", from frame {min(part.frames.values())}"
        parts.append(_folder_html(part, note, crops_per_folder, survivor=kept))
    parts.append("</div>")
    return "\n".join(parts)


def _near_misses_html(misses: Sequence[NearMiss]) -> str:
    parts = [
        '<h2>Near-misses</h2><p class="summary">The most similar pairs that will <b>not</b> be merged '
        "together. Pairs under the threshold would merge with a lower --threshold; pairs seen at the same "
        "time, or too far apart too soon after, are never merged.</p>"
    ]
    if not misses:
        parts.append("<p>No other pair of folders to show.</p>")
    for miss in misses:
        parts.append(
            f'<div class="group near-miss"><h3>{html.escape(miss.first.name)} and '
            f'{html.escape(miss.second.name)} <span class="score">{miss.similarity:.3f}</span> '
            f'<span class="reason">{html.escape(miss.reason)}</span></h3>'
        )
        parts.append(_folder_html(miss.first, "", 4) + _folder_html(miss.second, "", 4) + "</div>")
    return "\n".join(parts)


def _what_happens(dry_run: bool, answering: bool = False) -> str:
    if answering:
        return "Nothing is merged until you carry out the approved proposals (a backup is kept first)."
    if dry_run:
        return "A dry run: nothing is merged; run without --dry-run to be asked."
    return "Nothing is merged until you answer y (and a backup is kept in backup_before_merge)."


def write_report(path: Path, proposals: Sequence[ProposedGroup], misses: Sequence[NearMiss], **details) -> None:
    """Write the page atomically; ``OutputError`` if it cannot be written."""
    page = render(proposals, misses, **details).encode("utf-8")
    try:
        atomic_write_bytes(Path(path), page, durable=False)
    except OSError as exc:
        raise OutputError(f"cannot write the report {path}: {exc.strerror or exc}") from None
