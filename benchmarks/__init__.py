"""Benchmarks: an open-loop load generator and the scenarios of BENCHMARKS.md."""
