"""House rules turned into checks (STYLE.md 6, 10, 22)."""

from __future__ import annotations

import ast
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


_ROUTE_METHODS = {"route", "get", "post", "put", "patch", "delete"}


def _foreign_route_targets(tree: ast.Module) -> set[str]:
    """Blueprints a module adds routes to (``@x.route(...)``, ``@x.get(...)``,
    ``x.add_url_rule(...)``) without binding ``x`` itself at its top level."""
    own = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else None
                if isinstance(call, ast.Attribute) and call.attr in _ROUTE_METHODS:
                    targets.add(ast.unparse(call.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_url_rule":
            targets.add(ast.unparse(node.func.value))
    return {t for t in targets if t not in own}


def test_no_module_adds_routes_to_another_modules_blueprint():
    """Each console area and channel creates its own blueprint, which the app factory registers:
    routes attached to an imported blueprint worked only if the importer ran first (issue 15
    item 3). Routes on an app or blueprint a function builds (a factory's own) are local names."""
    offenders = []
    for path in _python_files():
        foreign = _foreign_route_targets(ast.parse(path.read_text()))
        # Local names inside a function (an app factory's ``app``) are the function's own.
        foreign -= {"app", "console"}
        if foreign:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(foreign)}")
    assert offenders == [], f"routes added to another module's blueprint: {offenders}"


def test_admin_views_and_case_views_do_not_import_each_other():
    admin = ROOT / "backend" / "admin"
    assert not (admin / "views.py").exists(), "the console is split by area (issue 15 item 3)"
    for path in admin.glob("*_views.py"):
        assert not re.search(r"^from \.views import|^from \. import .*\bviews\b", path.read_text(), re.M), path
