import base64
import json

import pytest

from backend.app import create_app
from backend.config import ConfigError, load_settings
from tests.conftest import TEST_CRYPTO_SUITE

GOOD = {
    "SECRET_KEY": "s" * 40,
    # An SM4 key beside the AES one: the 国密 suite (TEST_CRYPTO_SUITE=sm) encrypts with it.
    "PII_ENCRYPTION_KEYS": "p1:"
    + base64.b64encode(b"\x05" * 32).decode()
    + ",p2:sm4:"
    + base64.b64encode(b"\x06" * 16).decode(),
    "PII_HASH_KEY": "hash",
    "CRYPTO_SUITE": TEST_CRYPTO_SUITE,
}


def test_production_refuses_start_naming_missing_secret(tmp_path):
    env = {"ENV": "production", "SECRET_KEY": "s" * 40, "PII_HASH_KEY": "x"}
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ=env)
    assert "PII_ENCRYPTION_KEYS" in str(info.value)
    assert "SECRET_KEY" not in str(info.value).split("secret(s)")[1]


def report_key_env(folder) -> dict[str, str]:
    """The report signing files production requires (backend/issued_reports/keys.py)."""
    import os

    from reports import signing, sm2, tokens

    token_key = folder / "report-token.pem"
    if os.environ.get("TEST_CRYPTO_SUITE") == "sm":  # the 国密 suite signs with SM2
        sm2.save_private_key(sm2.generate_key(), token_key)
    else:
        tokens.save_private_key(tokens.generate_key(), token_key)
    key, cert = signing.generate_self_signed(directory=folder)
    return {
        "REPORT_SIGNING_KEYS": f"k1:{token_key}",
        "REPORT_PDF_KEY_PATH": str(key),
        "REPORT_PDF_CERT_PATH": str(cert),
    }


def test_production_starts_with_all_secrets(tmp_path):
    settings = load_settings(tmp_path, environ={"ENV": "production", **GOOD, **report_key_env(tmp_path)})
    assert settings.is_production
    assert not (tmp_path / "dev-secrets.json").exists()


def test_development_generates_throwaway_secrets_once(tmp_path, caplog):
    first = load_settings(tmp_path, environ={"ENV": "development"})
    path = tmp_path / "dev-secrets.json"
    assert path.exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "throw-away secrets" in caplog.text
    second = load_settings(tmp_path, environ={"ENV": "development"})
    assert first.SECRET_KEY == second.SECRET_KEY == json.loads(path.read_text())["SECRET_KEY"]


def test_environment_overrides_typed_defaults(tmp_path):
    settings = load_settings(
        tmp_path, environ={"CREDIT_REPORT_VALIDITY_DAYS": "45", "RATELIMIT_ENABLED": "false", **GOOD}
    )
    assert settings.REPORT_VALIDITY_DAYS == 45
    assert settings.RATELIMIT_ENABLED is False


def test_bad_value_names_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="CREDIT_REPORT_VALIDITY_DAYS"):
        load_settings(tmp_path, environ={"CREDIT_REPORT_VALIDITY_DAYS": "thirty", **GOOD})
    with pytest.raises(ConfigError, match="DATABASE_PING_AFTER_IDLE_SECONDS must be 0 or more"):
        load_settings(tmp_path, environ={"DATABASE_PING_AFTER_IDLE_SECONDS": "-1", **GOOD})


def test_create_app_in_production_without_secrets_fails(monkeypatch):
    for name in ("SECRET_KEY", "PII_ENCRYPTION_KEYS", "PII_HASH_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


# What each process prints: its secrets and its report keys, generated on first use.
_FIRST_USE = """
import hashlib, sys
from backend.config import load_settings
from backend.issued_reports.keys import _load
from reports import tokens
folder = sys.argv[1]
settings = load_settings(folder, environ={"ENV": "development"})
keys = _load(settings, folder)
public = tokens.public_jwk(keys.private_key, keys.kid)
cert = open(keys.pdf_cert_path, "rb").read()
print(settings.SECRET_KEY, settings.PII_HASH_KEY, public["x"], hashlib.sha256(cert).hexdigest())
"""


def test_workers_starting_at_once_share_one_set_of_development_keys(tmp_path):
    """gunicorn starts its workers together; each generating its own secrets and report keys
    gave half-read key files (500s) and tokens the other workers could not verify."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _FIRST_USE, str(tmp_path)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    lines = {out.strip() for out, _ in outputs}
    assert len(lines) == 1, lines
    secret_key = lines.pop().split()[0]
    assert json.loads((tmp_path / "dev-secrets.json").read_text())["SECRET_KEY"] == secret_key


def _production_env(tmp_path) -> dict[str, str]:
    return {
        "ENV": "production",
        "DATABASE_URL": "sqlite:///" + str(tmp_path / "prod.db"),
        "STORAGE_DIR": str(tmp_path / "files"),
        **GOOD,
        **report_key_env(tmp_path),
    }


def test_production_web_processes_leave_out_migrations_and_the_command_line_has_them(tmp_path):
    """A gunicorn worker never migrates and does not carry Flask-Migrate (alembic, mako,
    pygments); `flask db upgrade` in production still works."""
    import os
    import sqlite3
    import subprocess
    import sys

    import click

    env = _production_env(tmp_path)
    assert "migrate" not in create_app(env).extensions
    with click.Context(click.Command("flask")):
        assert "migrate" in create_app(env).extensions

    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_") and k != "TEST_DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend.app:create_app", "db", "upgrade"],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "prod.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None
