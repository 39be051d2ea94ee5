"""The package's exception types.

Library code raises these; the scripts turn them into one ``Error: ...`` line and a
non-zero exit code (see ``reid.core.cli.run_reporting_errors``), so users never see a
traceback for bad input.
"""

from __future__ import annotations


class ReidError(Exception):
    """Base class for every error the scripts report as a one-line message."""


class InputError(ReidError):
    """The user's input (videos, folders, flags) cannot be used."""


class ModelNotFoundError(ReidError):
    """A model weights file is missing and could not be downloaded."""


class StatusError(ReidError):
    """``status.json`` is unreadable, not JSON, or not of the expected shape."""


class OutputError(ReidError):
    """Results cannot be written (permissions, full disk)."""


class MergeError(ReidError):
    """A merge or undo could not be done safely; nothing was lost."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (frameworks often add pages of detail), or its type."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
