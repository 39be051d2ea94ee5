"""The example clip bundled in ``examples/``: offered when there is no video to count persons in."""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path

from ..core.errors import InputError

EXAMPLE_CLIP = Path(__file__).resolve().parents[2] / "examples" / "sample.mp4"


def _as_typed(path: Path) -> str:
    """``path`` as a user would type it here: relative to the current folder when below it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def try_example_command(script: str = "obj_counting.py") -> str:
    """The command that runs ``script`` (beside ``examples/``) on the example clip, from here."""
    script_path = EXAMPLE_CLIP.parents[1] / script
    return shlex.join([_as_typed(Path(sys.executable)), _as_typed(script_path), "--videos", _as_typed(EXAMPLE_CLIP)])


def no_videos_error(videos: Path, reason: InputError) -> InputError:
    """``reason`` (a missing or empty videos folder) with what to put there and how to try the example."""
    where = (
        ""
        if not Path(videos).exists()
        else f"; copy the videos to count persons in into {videos}/ or pass --videos PATH"
    )
    example = f"; to try it on the bundled example clip: {try_example_command()}" if EXAMPLE_CLIP.is_file() else ""
    return InputError(f"{reason}{where}{example}")
