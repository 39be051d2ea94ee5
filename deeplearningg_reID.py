#!/usr/bin/env python3
"""Step 3: find person folders that show the same person and merge them.

The merge stage is not part of this version yet: this script says so and changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reid.cli import EXIT_ERROR, ArgumentParser
from reid.config import DEFAULT_PERSONS, DEFAULT_STATUS


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="deeplearningg_reID.py",
                            description="Find person folders that show the same person and merge them "
                                        "(not available in this version).")
    parser.add_argument("--persons", type=Path, default=DEFAULT_PERSONS, metavar="DIR",
                        help="person folders made by obj_counting.py (default: %(default)s)")
    parser.add_argument("--status", type=Path, default=DEFAULT_STATUS, metavar="FILE",
                        help="status file shared with the other scripts (default: %(default)s)")
    parser.parse_args(argv)
    print("Error: the re-identification merge is not available in this version yet; "
          "no folder was changed", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
