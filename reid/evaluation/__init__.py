"""How good the count and the merge are, measured on labelled data."""
