"""The package's exception types.

Library code raises these; the scripts turn them into one ``Error: ...`` line and a
non-zero exit code (see ``reid.cli.run_cli``), so users never see a traceback for
bad input.
"""


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
