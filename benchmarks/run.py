"""Run the benchmarks and write their tables into BENCHMARKS.md.

    python -m benchmarks.run            # full mode (about 11 minutes on 2 cores)
    python -m benchmarks.run --quick    # small inputs (a few minutes); what CI runs
    python -m benchmarks.run --only reliability   # re-measure some sections, keep the others

Every speed figure is a ratio against a baseline measured in the same run. Needs the
sample data (``--data``, default ``$REID_TEST_DATA`` or ``../shared/data``).
"""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

# TensorFlow runs in this process; ultralytics only in child processes. Hide triton anyway
# (torch + TensorFlow in one process crash once triton loads).
sys.modules.setdefault("triton", None)

from reid.core.cli import ArgumentParser  # noqa: E402

from . import backbones, ceiling, detect_rate, ground_truth, parallel, quality, reliability, speed  # noqa: E402
from .common import DEFAULT_DATA, REPO, Settings, cpu_flags, gpu_note, machine  # noqa: E402

SECTIONS = {
    "tracking": speed.tracking,
    "ceiling": ceiling.ceiling,
    "parallel": parallel.parallel,
    "features": speed.features,
    "openvino": backbones.openvino,
    "grouping": speed.grouping,
    "cache": speed.cache,
    "memory": quality.memory,
    "accuracy": quality.accuracy,
    "counting": quality.counting,
    "ground_truth": ground_truth.ground_truth,
    "detect_rate": detect_rate.detect_rate,
    "reliability": reliability.report,
}


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, a few minutes")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="sample data folder (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md", help="report (default: %(default)s)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections (default: all)")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if not args.data.is_dir():
        print(f"Error: sample data folder {args.data} not found (pass --data DIR)", file=sys.stderr)
        return 1
    command = (
        "python -m benchmarks.run"
        + (" --quick" if args.quick else "")
        + (f" --only {args.only}" if set(chosen) != set(SECTIONS) else "")
    )
    started = datetime.now(UTC)
    parts, failures = [], []
    with tempfile.TemporaryDirectory(prefix="reid-bench-") as scratch:
        settings = Settings(args.data.resolve(), args.quick, Path(scratch))
        for name in chosen:
            print(f"[{name}] running...", flush=True)
            start = time.perf_counter()
            try:
                section = SECTIONS[name](settings)
            except Exception:  # one broken benchmark must not hide the others' figures
                failures.append(name)
                parts.append(f"## {name}\n\nFAILED:\n\n```\n{traceback.format_exc()}```\n")
                print(f"[{name}] FAILED", flush=True)
                continue
            parts.append(section.markdown())
            print(section.markdown(), flush=True)
            print(f"[{name}] {time.perf_counter() - start:.0f} s", flush=True)
    header = [
        "# Benchmarks",
        "",
        f"- command: `{command}` (from the repository root; {shlex.quote(str(args.data))} as the data)",
        f"- mode: {'quick (small inputs)' if args.quick else 'full'}",
        f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')}, "
        f"{(datetime.now(UTC) - started).total_seconds() / 60:.1f} minutes",
        f"- machine: {machine()}",
        f"- CPU flags: {cpu_flags()} (figures from machines with other flags are not comparable)",
        f"- GPU: {gpu_note()}",
        "",
    ]
    if set(chosen) != set(SECTIONS) and args.output.exists():
        report = update_sections(
            args.output.read_text(encoding="utf-8"),
            parts,
            f"- updated: {started.strftime('%Y-%m-%d %H:%M UTC')}, `{command}` (machine: {machine()}; CPU flags: "
            f"{cpu_flags()}; GPU: {gpu_note()})",
        )
    else:
        report = "\n".join(header + parts)
    args.output.write_text(report, encoding="utf-8")
    print(f"report written to {args.output}")
    return 1 if failures else 0


def update_sections(report: str, parts: list[str], note: str) -> str:
    """``report`` with the sections in ``parts`` replaced (or appended) and ``note`` added to
    its header, so re-measuring a few sections keeps the others.

    >>> print(update_sections("# B\\n\\n- x\\n\\n## a\\n\\nold\\n\\n## b\\n\\nkept\\n", ["## a\\n\\nnew\\n"], "- u"))
    # B
    <BLANKLINE>
    - x
    - u
    <BLANKLINE>
    ## a
    <BLANKLINE>
    new
    <BLANKLINE>
    ## b
    <BLANKLINE>
    kept
    <BLANKLINE>
    """
    chunks = ("\n" + report).split("\n## ")
    header, sections = chunks[0].lstrip("\n"), {c.split("\n", 1)[0]: "## " + c for c in chunks[1:]}
    for part in parts:
        sections[part.split("\n", 1)[0][3:]] = part
    header = header.rstrip("\n") + "\n" + note + "\n\n"
    return (
        header
        + "".join(text if text.endswith("\n\n") else text.rstrip("\n") + "\n\n" for text in sections.values()).rstrip(
            "\n"
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.exit(main())
