"""The independent SM2 implementation the tests cross-check Tongsuo against (snowland-smx, pure
Python, requirements-dev.txt), and the marker of tests that need it: skipped only off CI."""

import os

import pytest

try:
    import pysmx.SM2 as independent_sm2
except ImportError:  # pragma: no cover
    independent_sm2 = None

needs_independent = pytest.mark.skipif(
    independent_sm2 is None and not os.environ.get("CI"), reason="snowland-smx (requirements-dev.txt) missing"
)
