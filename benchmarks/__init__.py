"""Speed, memory and accuracy benchmarks; run with ``python -m benchmarks.run`` (see README)."""
