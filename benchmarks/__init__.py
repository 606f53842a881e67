"""Latency and relevance harnesses: ``python -m benchmarks --help``."""
