"""House rules turned into checks (STYLE.md 6, 10, 22)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Boundaries that may commit: the request's (db_session.py), CLI commands, jobs. Views never do.
BOUNDARY = re.compile(r"(db_session\.py|cli\.py|demo\.py|jobs\.py)$")
# Modules that serve requests: views, the console's helpers, the WeChat callbacks.
VIEW_MODULE = re.compile(r"((^|_)views\.py|auth\.py|oa\.py|message_push\.py)$")
COMMIT = re.compile(r"\.commit\(\)")


def _python_files():
    for top in ("backend", "reports", "kiosk", "miniprogram_api"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def test_commits_only_at_the_boundary():
    offenders = [
        str(path.relative_to(ROOT))
        for path in _python_files()
        if COMMIT.search(path.read_text()) and not BOUNDARY.search(path.name)
    ]
    assert offenders == [], f"commit() outside a request/CLI/job boundary: {offenders}"


def test_no_view_commits():
    """The request commits (backend/db_session.py); a refused attempt that must stay on record
    goes through ``commit_refusal()``, never a view's own ``commit()``."""
    views = [path for path in _python_files() if VIEW_MODULE.search(path.name)]
    assert len(views) >= 10, views
    offenders = [str(p.relative_to(ROOT)) for p in views if COMMIT.search(p.read_text())]
    assert offenders == [], f"commit() in a view module: {offenders}"


def test_no_create_all_outside_tests():
    offenders = [str(p.relative_to(ROOT)) for p in _python_files() if "create_all(" in p.read_text()]
    assert offenders == []


def test_reports_imports_nothing_of_ours():
    for path in (ROOT / "reports").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(backend|kiosk|miniprogram_api)\b", text, re.M), path


_CLOCK_READ = re.compile(r"\b(local_date|utcnow)\(\)|\bdt\.date\.today\(\)|\bdatetime\.now\(")


def test_no_test_module_reads_the_clock_at_import():
    """A day computed when the module is imported goes stale when the suite runs across midnight
    in Jinchang (16:00 UTC): tests read the day from the ``clock`` fixture, at test time."""
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line and not line[0].isspace() and _CLOCK_READ.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == [], f"module-level clock reads: {offenders}"
