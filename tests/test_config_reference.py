"""docs/configuration.md is generated from backend/config.py and must not go stale."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

from backend.config import Settings

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "configuration.md"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_config_reference", ROOT / "docs" / "gen_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_reference_matches_the_code():
    expected = _generator().render()
    assert REFERENCE.read_text() == expected, (
        "docs/configuration.md is stale: run `.venv/bin/python docs/gen_config_reference.py > docs/configuration.md`"
    )


def test_every_setting_has_a_row_with_its_default_and_comment():
    text = REFERENCE.read_text()
    for field in dataclasses.fields(Settings):
        if field.name != "extra":
            assert f"| `{field.name}` |" in text, field.name
    row = next(line for line in text.splitlines() if line.startswith("| `TRUSTED_PROXY_HOPS` |"))
    assert "| integer | `0` |" in row and "nginx on the same box: 1" in row
    secret = next(line for line in text.splitlines() if line.startswith("| `PII_HASH_KEY` |"))
    assert "Secret, required in production" in secret


def test_deployment_variables_read_by_gunicorn_are_documented():
    source = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    read = set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', source))
    documented = {row[0] for row in _generator().DEPLOY_VARIABLES}
    assert read and read <= documented, read - documented
