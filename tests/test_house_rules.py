"""House rules turned into checks (STYLE.md 6, 10, 22)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Boundaries that may commit: request views, CLI commands, jobs.
BOUNDARY = re.compile(r"(views\.py|cli\.py|demo\.py|jobs\.py|auth\.py)$")


def _python_files():
    for top in ("backend", "reports", "kiosk", "miniprogram_api"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def test_commits_only_at_the_boundary():
    offenders = [
        str(path.relative_to(ROOT))
        for path in _python_files()
        if "session.commit(" in path.read_text() and not BOUNDARY.search(path.name)
    ]
    assert offenders == [], f"session.commit() outside a request/CLI/job boundary: {offenders}"


def test_no_create_all_outside_tests():
    offenders = [str(p.relative_to(ROOT)) for p in _python_files() if "create_all(" in p.read_text()]
    assert offenders == []


def test_reports_imports_nothing_of_ours():
    for path in (ROOT / "reports").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(backend|kiosk|miniprogram_api)\b", text, re.M), path
