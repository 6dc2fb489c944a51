"""Fixtures for the reports library: keys, a self-signed certificate, issued report PDFs.

The poppler and zbar command-line tools are required (CI installs poppler-utils and
zbar-tools); a missing tool fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import shutil

import pytest
from report_helpers import TOOLS, issue

from reports import signing, sm2, tokens
from reports.samples import sample_content


@pytest.fixture(scope="session", autouse=True)
def _tools_installed():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"required tools missing: {missing}; install poppler-utils and zbar-tools", pytrace=False)


@pytest.fixture(scope="session")
def token_key():
    """Ed25519, or SM2 when the suite runs with TEST_CRYPTO_SUITE=sm (tests/conftest.py)."""
    if os.environ.get("TEST_CRYPTO_SUITE") == "sm":
        return sm2.generate_key()
    return tokens.generate_key()


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory):
    return signing.generate_self_signed(directory=tmp_path_factory.mktemp("cert"))


@pytest.fixture(scope="session")
def signer(cert_files):
    return signing.cached_signer(*cert_files)


@pytest.fixture(scope="session")
def issued_reports(token_key, signer):
    """One issued report per kind, with enough records for several pages."""
    return {
        kind: issue(
            sample_content(kind, number=f"XYJC-20260512-{kind[:2].upper()}7K3M9Q2X", penalties=7), token_key, signer
        )
        for kind in ("enterprise", "personal", "special")
    }
