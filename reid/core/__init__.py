"""What every stage shares: settings, errors, atomic files, the persons/ layout and its lease,
status.json, and the scripts' command-line edge. Standard library and numpy only."""
