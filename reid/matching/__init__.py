"""Stage 3, first half (deeplearningg_reID.py): which person folders show the same person."""
