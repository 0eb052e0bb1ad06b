"""Benchmark scripts, run by path (python benchmarks/NAME.py); a package so tests can import them."""
