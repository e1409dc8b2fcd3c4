"""Benchmarks (not tests): they print figures, they assert nothing."""
