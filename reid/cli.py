"""What the three scripts share at their edge: argument parsing, logging, error reporting."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, NoReturn

from .errors import ReidError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3  # some inputs failed, the others were processed
EXIT_INTERRUPTED = 130


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (``Error: ... (see --help)``) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"Error: {message} (see {self.prog} --help)\n")


def add_logging_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="log details, including debugging information")
    group.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        force=True)
    if not verbose:
        # third-party libraries log a lot at INFO; keep them to warnings unless asked
        for name in ("ultralytics", "tensorflow", "absl", "h5py", "PIL", "matplotlib", "werkzeug"):
            logging.getLogger(name).setLevel(logging.WARNING)


def run_reporting_errors(run: Callable[[], int]) -> int:
    """Call ``run``; turn the package's errors and Ctrl-C into one line on stderr and an exit code."""
    try:
        return run()
    except ReidError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # the machine's fault (a full disk, a permission), not ours: no traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"Error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_ERROR
