#!/usr/bin/env python3
"""Download the sample test data from its public sources and check it against the sha256 sums
recorded in scripts/test_data.sha256.

    .venv/bin/python scripts/get_test_data.py                  # into $REID_TEST_DATA or ../shared/data
    .venv/bin/python scripts/get_test_data.py --dest ~/reid-data
    .venv/bin/python scripts/get_test_data.py --check          # only check what is there, no network

Then run the tests with REID_TEST_DATA set to that folder. Files already there with the right
sum are kept; a download is written to a temporary file and renamed only once its size and sum
match. A few files were made from public files (re-encoded or assembled; marked ``derived`` in the
manifest) and cannot be downloaded as they are: the tests that need them are skipped.

Licenses are the sources': the MOT15 clips under mot/ are CC BY-NC-SA 3.0 (non-commercial).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a file (scripts/get_test_data.py), not as a module

from reid.core.cli import ArgumentParser, add_logging_flags, run_reporting_errors, setup_logging  # noqa: E402
from reid.core.errors import ReidError  # noqa: E402

log = logging.getLogger("get_test_data")
MANIFEST = Path(__file__).resolve().with_name("test_data.sha256")
DERIVED = "derived:"
TIMEOUT_S = 60.0
CHUNK = 1 << 20


class DataError(ReidError):
    """A file that cannot be had or does not match: reported in one line."""


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int
    path: str  # relative to the data folder
    source: str  # a URL, or derived:URL

    @property
    def is_derived(self) -> bool:
        return self.source.startswith(DERIVED)


def read_manifest(path: Path) -> list[Entry]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 4 or len(fields[0]) != 64 or not fields[1].isdigit():
            raise DataError(f"{path}:{number}: expected 'sha256 bytes path source', not {line!r}")
        entries.append(Entry(fields[0], int(fields[1]), fields[2], fields[3]))
    return entries


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def problem_with(entry: Entry, dest: Path) -> str | None:
    """Why the file at ``dest`` is not the manifest's (None: it is)."""
    target = dest / entry.path
    if not target.is_file():
        return "missing"
    size = target.stat().st_size
    if size != entry.size:
        return f"{size} bytes, expected {entry.size}"
    if sha256_of(target) != entry.sha256:
        return f"sha256 differs from the recorded {entry.sha256[:12]}... (damaged or another file)"
    return None


def download(entry: Entry, dest: Path) -> None:
    """``entry.source`` into ``dest / entry.path``, kept only when its size and sha256 match."""
    target = dest / entry.path
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(entry.source, timeout=TIMEOUT_S) as response:  # noqa: S310 (from the manifest)
                    while size <= entry.size and (chunk := response.read(min(CHUNK, entry.size + 1 - size))):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            except OSError as exc:  # URLError, HTTPError, timeouts, refused connections
                code = getattr(exc, "code", None)
                reason = (f"HTTP {code} " if code else "") + str(getattr(exc, "reason", None) or exc)
                raise DataError(
                    f"cannot download {entry.source} ({reason}); check the connection and try again"
                ) from None
        if (size, digest.hexdigest()) != (entry.size, entry.sha256):
            raise DataError(f"the download of {entry.source} is not the recorded file ({size} bytes): not kept")
        os.replace(temp_name, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)


def check(entries: list[Entry], dest: Path) -> None:
    """Every file present and matching, or ``DataError`` naming the first that is not."""
    for entry in entries:
        problem = problem_with(entry, dest)
        if problem:
            raise DataError(f"{dest / entry.path}: {problem}; run scripts/get_test_data.py --dest {dest} to fetch it")
    print(f"all {len(entries)} files in {dest} match their recorded sha256")  # the summary: not a log line


def fetch(entries: list[Entry], dest: Path) -> None:
    """Download what is missing or damaged; derived files can only be reported."""
    fetched = kept = 0
    unavailable = []
    for entry in entries:
        problem = problem_with(entry, dest)
        if problem is None:
            kept += 1
            continue
        if entry.is_derived:
            unavailable.append(entry)
            continue
        if problem != "missing":
            log.warning("%s: %s: downloading it again", dest / entry.path, problem)
        log.debug("downloading %s", entry.source)
        download(entry, dest)
        fetched += 1
    print(f"{fetched} files downloaded, {kept} already there, into {dest}")
    for entry in unavailable:
        log.warning(
            "%s is not there and cannot be downloaded: it was made from %s; the tests that need it are skipped",
            entry.path,
            entry.source.removeprefix(DERIVED),
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    default = Path(os.environ.get("REID_TEST_DATA", REPO.parent / "shared" / "data"))
    parser = ArgumentParser(prog="scripts/get_test_data.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dest", type=Path, default=default, metavar="DIR", help="the data folder (default: %(default)s)"
    )
    parser.add_argument("--check", action="store_true", help="only check the files there; download nothing")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, metavar="FILE", help="(default: %(default)s)")
    add_logging_flags(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    entries = read_manifest(args.manifest)
    if args.check:
        check(entries, args.dest)
    else:
        fetch(entries, args.dest)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
