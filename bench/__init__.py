"""Benchmarks of the import path and the public queries (`make bench`); never part of the tests."""
