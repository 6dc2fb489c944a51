"""The files in deploy/ are checked by the tools that will read them: every setting in
env.example is one the app knows and the whole file starts the app in production, nginx -t
accepts the site, systemd-analyze accepts the units."""

from __future__ import annotations

import dataclasses
import os
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from backend.config import Settings, load_settings
from reports import signing, tokens

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# Read by gunicorn.conf.py or systemd, not by the app.
DEPLOY_ONLY = {
    "GUNICORN_BIND",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_MALLOC_THRESHOLD",
}


def _env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and key == key.strip() and key.isupper(), line
            values[key] = value
    return values


def test_env_example_names_only_real_settings():
    known = {f.name for f in dataclasses.fields(Settings)} | DEPLOY_ONLY
    assert set(_env_example()) - known == set()


def test_env_example_filled_in_starts_the_app_in_production(tmp_path):
    values = _env_example()
    key, cert = signing.generate_self_signed(directory=tmp_path)
    tokens.save_private_key(tokens.generate_key(), tmp_path / "r.pem")
    filled = {
        **{k: v for k, v in values.items() if k not in DEPLOY_ONLY},
        "SECRET_KEY": "x" * 48,
        "PII_ENCRYPTION_KEYS": "k2026:" + "A" * 43 + "=",
        "PII_HASH_KEY": "h" * 32,
        "REPORT_SIGNING_KEYS": f"r2026:{tmp_path / 'r.pem'}",
        "REPORT_PDF_KEY_PATH": str(key),
        "REPORT_PDF_CERT_PATH": str(cert),
        "REPORT_PDF_CHAIN_PATHS": "",
    }
    settings = load_settings(tmp_path, environ=filled)
    assert settings.is_production
    assert settings.TRUSTED_PROXY_HOPS == 1
    assert settings.STORAGE_BACKEND == "local"


@pytest.mark.skipif(
    shutil.which("nginx") is None and not os.environ.get("CI"),
    reason="nginx not installed (apt-get install nginx-light)",
)
def test_nginx_accepts_the_site(tmp_path):
    key, cert = signing.generate_self_signed(directory=tmp_path)
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("/etc/credit/tls/fullchain.pem", str(cert)).replace("/etc/credit/tls/privkey.pem", str(key))
    site = site.replace("/etc/nginx/credit_proxy.conf", str(DEPLOY / "nginx-proxy.conf"))
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    temp = "".join(
        f"{name}_temp_path {tmp_path}/{name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "main.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n{temp}access_log off;\ninclude {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "main.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and not os.environ.get("CI"), reason="systemd-analyze not installed"
)
def test_systemd_units_verify(tmp_path):
    """Paths point into this checkout so that systemd can check the executables exist."""
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text()
        text = text.replace("/opt/credit/app", str(ROOT)).replace("/etc/credit/credit.env", str(DEPLOY / "env.example"))
        name = unit.name.replace("@.service", "@1.service")
        (tmp_path / name).write_text(text)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "credit-web.service" in names and "credit-worker@1.service" in names
    result = subprocess.run(
        ["systemd-analyze", "verify", *names], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    problems = [line for line in result.stderr.splitlines() if "credit-" in line]
    assert problems == []


def test_flask_wrapper_runs_commands_with_the_env_file(tmp_path):
    env_file = tmp_path / "credit.env"
    env_file.write_text(
        f"ENV=development\nDATABASE_URL=sqlite:///{tmp_path / 'wrapped.db'}\nSTORAGE_DIR={tmp_path / 'files'}\n"
        "PII_ENCRYPTION_KEYS=k1:" + "A" * 43 + "=\nSECRET_KEY=" + "s" * 40 + "\nPII_HASH_KEY=h\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_") and k != "TEST_DATABASE_URL"}
    result = subprocess.run(
        ["bash", str(DEPLOY / "flask.sh"), "db", "upgrade"],
        env={**base, "CREDIT_ENV_FILE": str(env_file)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "wrapped.db").stat().st_size > 0  # migrated where the env file said
    missing = subprocess.run(
        ["bash", str(DEPLOY / "flask.sh"), "--help"],
        env={**base, "CREDIT_ENV_FILE": str(tmp_path / "absent.env")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_gunicorn_fixes_glibc_malloc_thresholds_in_each_worker(monkeypatch):
    monkeypatch.delenv("GUNICORN_MALLOC_THRESHOLD", raising=False)
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["malloc_threshold"] == 128 * 1024
    assert conf["_fixed_malloc_thresholds"](conf["malloc_threshold"]) is True  # glibc accepted both
    calls = []
    conf["post_fork"].__globals__["_fixed_malloc_thresholds"] = calls.append
    conf["post_fork"](None, None)
    assert calls == [128 * 1024]
    monkeypatch.setenv("GUNICORN_MALLOC_THRESHOLD", "0")
    off = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    off["post_fork"].__globals__["_fixed_malloc_thresholds"] = calls.append
    off["post_fork"](None, None)
    assert calls == [128 * 1024]  # 0: glibc's own behaviour, nothing set
