"""Longer reliability runs than CI can afford: many random-time kills of a merge, and a long
load on the monitor. Exits 1 if any promise broke.

    python -m benchmarks.stress --kills 200 --requests 5000
"""

from __future__ import annotations

import collections
import random
import sys
import tempfile
from pathlib import Path

from reid.core.cli import ArgumentParser

from .common import DEFAULT_DATA, Settings
from .reliability import build_merge_workdir, monitor_load, random_kills, warm_cache


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.stress", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200, help="merges killed at random moments (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent monitor clients (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=5000, help="requests per client (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the kill times (default: random)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="sample data folder (default: %(default)s)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    broken = 0
    with tempfile.TemporaryDirectory(prefix="reid-stress-") as scratch:
        s = Settings(args.data.resolve(), False, Path(scratch))
        if args.requests > 0:
            load = monitor_load(
                s.work / "load",
                args.clients,
                args.requests,
                rewrite=True,
                time_limit_s=max(600.0, args.clients * args.requests / 50),
            )
            print(
                f"monitor: {load.requests} requests, {load.failed} failed, {load.invalid} invalid, "
                f"{load.requests_per_s:.0f} req/s, p99 {load.percentile_ms(99):.1f} ms, "
                f"{load.rewrite_hz:.0f} status rewrites/s",
                flush=True,
            )
            for problem in load.problems:
                print(f"  {problem}")
            broken += load.failed + load.invalid
        if args.kills > 0:
            template = build_merge_workdir(s.labelled, s.work / "template")
            warm_cache(template, s.mobilenet_v2)
            results = random_kills(template, s.work / "kills", s.mobilenet_v2, args.kills, seed)
            where = collections.Counter(stage for stage, _, _ in results)
            failed = [(n, stage, problems) for n, (stage, _, problems) in enumerate(results) if problems]
            print(
                f"kills (seed {seed}): {len(results)} rounds, {len(failed)} broke a promise; landed: "
                + ", ".join(f"{stage} {count}" for stage, count in sorted(where.items())),
                flush=True,
            )
            for n, stage, problems in failed:
                print(f"  round {n} ({stage}): {'; '.join(problems)}")
            broken += len(failed)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
