"""The load benchmark of the kiosk: bench/run.py drives it (see docs/benchmarks.md)."""
