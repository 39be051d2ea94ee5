"""Third-party start-up noise, shown only with ``--verbose``.

TensorFlow, absl and LiteRT write their start-up lines (``failed call to cuInit: UNKNOWN ERROR
(303)`` on a machine without a GPU, ``Created TensorFlow Lite XNNPACK delegate``) from C++ straight
to the process's standard error, past Python's logging. Two means keep them out of a normal run:
environment variables read when the frameworks load (so ``quiet_frameworks`` runs before any of
them is imported), and, for the lines those variables do not reach, ``native_noise_held_back``
around the moment a framework loads. Standard library only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

# Read by the frameworks when they load; a value the user set is kept.
QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ log, errors included: cuInit's on a CPU-only machine
    "GRPC_VERBOSITY": "ERROR",
}
VERBOSE_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "0"}

# Native log lines that say nothing a user can act on.
NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] "  # absl's format: I0000 00:00:1796477821.901082  9030 file.cc:31]
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    r"|INFO: Initialized TensorFlow Lite runtime\.)"
)

STDERR = 2


def quiet_frameworks(verbose: bool) -> None:
    """Set the frameworks' log levels; call before any of them is imported."""
    for name, value in (VERBOSE_ENVIRONMENT if verbose else QUIET_ENVIRONMENT).items():
        os.environ.setdefault(name, value)


def is_noise(line: str) -> bool:
    """Whether a line on stderr is known native start-up noise.

    >>> is_noise("INFO: Created TensorFlow Lite XNNPACK delegate for CPU."), is_noise("Error: disk full")
    (True, False)
    """
    return NOISE.match(line) is not None


@contextlib.contextmanager
def native_noise_held_back() -> Iterator[None]:
    """Hold back what is written to stderr meanwhile, then pass on every line but the known noise.

    With ``--verbose`` (the root logger at DEBUG) nothing is held back. Keep the block short: a
    line logged inside it appears when it ends.
    """
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    try:
        saved = os.dup(STDERR)
    except OSError:  # no stderr at all (closed by whoever started us): nothing to hold back
        saved = None
    if saved is None:
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), STDERR)
        try:
            yield
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, STDERR)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not is_noise(line))
            data = kept.encode("utf-8")
            while data:
                data = data[os.write(STDERR, data) :]
