"""Benchmarks: run them with ``make bench``; their numbers are in docs/performance.md."""
