"""What the three scripts share at their edge: argument parsing, logging, error reporting."""

from __future__ import annotations

import argparse
import difflib
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .errors import ReidError
from .quiet import quiet_frameworks

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3  # some inputs failed, the others were processed
EXIT_INTERRUPTED = 130


def plural(count: int, noun: str) -> str:
    """``1 person``, ``2 persons``.

    >>> plural(1, "group"), plural(0, "group")
    ('1 group', '0 groups')
    """
    return f"{count} {noun}{'' if count == 1 else 's'}"


def parse_size(text: str) -> tuple[int, int]:
    """``256x128`` -> (256, 128), height by width; ``ValueError`` for anything else.

    >>> parse_size("256x128")
    (256, 128)
    """
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match:
        raise ValueError(f"must look like 256x128 (height x width), not {text!r}")
    return int(match.group(1)), int(match.group(2))


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (``Error: ... (see --help)``), exit code 2, no silently
    accepted abbreviations (``--max-frame`` is a typo, not ``--max-frames``) and a suggestion
    for a misspelt flag."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"Error: {message}{self._suggestion(message)} (see {self.prog} --help)\n")

    def _suggestion(self, message: str) -> str:
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        if not unknown:
            return ""
        flags = [option for action in self._actions for option in action.option_strings]
        close = difflib.get_close_matches(unknown.group(1).split("=")[0], flags, n=1, cutoff=0.6)
        return f"; did you mean {close[0]}?" if close else ""


@dataclass(frozen=True)
class Flag:
    """A command-line flag that sets one field of a settings dataclass (``reid.core.config``).

    Its type and default come from the dataclass, so each setting is described once; an
    invalid value is reported with the flag's name (``--conf must be between 0 and 1``).
    """

    name: str  # --max-frames
    field: str  # max_frames
    help: str
    metavar: str | None = None
    choices: Sequence[str] | None = None
    type: Callable[[str], Any] | None = None  # when the default (None) does not tell


def add_folder_flags(parser: argparse.ArgumentParser, persons_help: str, status_help: str) -> None:
    """``--persons`` and ``--status``, the two paths every script shares."""
    from .config import DEFAULT_PERSONS, DEFAULT_STATUS

    parser.add_argument(
        "--persons", type=Path, default=DEFAULT_PERSONS, metavar="DIR", help=f"{persons_help} (default: %(default)s)"
    )
    parser.add_argument(
        "--status", type=Path, default=DEFAULT_STATUS, metavar="FILE", help=f"{status_help} (default: %(default)s)"
    )


def add_ray_flag(parser: argparse.ArgumentParser, what: str, stays: str) -> None:
    """``--ray [ADDRESS]``, which both scripts offer: ``what`` runs as Ray tasks, ``stays`` on this machine."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help=f"{what} as Ray tasks: on a Ray instance started on this machine for the run, or on the running "
        f"cluster at ADDRESS (host:6379 or ray://host:10001); {stays}",
    )


def add_input_size_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-size", default="256x128", metavar="HxW", help="network input (default: %(default)s)")


def input_size_fields(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, int]:
    """``--input-size`` as the settings' ``input_height`` and ``input_width``; a usage error if malformed."""
    try:
        height, width = parse_size(args.input_size)
    except ValueError as exc:
        parser.error(f"--input-size {exc}")
    return {"input_height": height, "input_width": width}


def add_config_flags(parser: argparse.ArgumentParser, defaults: Any, flags: Sequence[Flag]) -> None:
    for flag in flags:
        default = getattr(defaults, flag.field)
        if isinstance(default, bool):
            parser.add_argument(flag.name, dest=flag.field, action="store_true", help=flag.help)
            continue
        shown = " (default: %(default)s)" if default is not None else ""
        parser.add_argument(
            flag.name,
            dest=flag.field,
            default=default,
            metavar=flag.metavar,
            choices=flag.choices,
            type=flag.type or type(default),
            help=flag.help + shown,
        )


def config_from_args(
    parser: argparse.ArgumentParser, config_type: type, args: argparse.Namespace, flags: Sequence[Flag], **fields: Any
) -> Any:
    """Build the settings from the parsed flags (plus ``fields``); a rejected value is a usage error."""
    try:
        return config_type(**{flag.field: getattr(args, flag.field) for flag in flags}, **fields)
    except ValueError as exc:
        message = str(exc)
        for flag in flags:
            message = re.sub(rf"\b{flag.field}\b", flag.name, message)
        parser.error(message)


def add_logging_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", action="store_true", help="log what happens step by step, with times and debugging details"
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", help="errors and the summary only: no progress bars, no warnings"
    )


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """The terminal shows progress bars, warnings and the summary; ``-v`` adds every step, timed, and
    the frameworks' own lines; ``-q`` keeps errors only (the summary is printed, not logged).
    Runs before any framework is imported, so that their start-up settings take effect."""
    quiet_frameworks(verbose)
    if verbose:
        level, layout = logging.DEBUG, "%(asctime)s %(levelname)s %(name)s: %(message)s"
    else:
        level, layout = (logging.ERROR if quiet else logging.WARNING), "%(levelname)s: %(message)s"
    logging.basicConfig(level=level, format=layout, datefmt="%H:%M:%S", force=True)
    if not verbose:
        # third-party libraries log a lot at INFO; keep them to warnings unless asked
        for name in ("ultralytics", "tensorflow", "absl", "h5py", "PIL", "matplotlib", "werkzeug"):
            logging.getLogger(name).setLevel(logging.WARNING)


def run_reporting_errors(run: Callable[[], int]) -> int:
    """Call ``run``; turn the package's errors and Ctrl-C into one line on stderr and an exit code.
    Log lines are written around the progress bars, not into them."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        with logging_redirect_tqdm():
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
