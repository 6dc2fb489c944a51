"""Report signing material is checked before the first report: production start-up refuses (a
message naming the setting, the file and the problem) and /readyz answers 503 with
checks.signing when a key cannot be read or the PDF key is not its certificate's key. Before:
start-up and /readyz were green and the first report answered 422 "报告签章失败".

Unreadable files are simulated by a read that raises PermissionError (tests may run as root,
whom chmod 000 does not stop) and by a path that is a directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.app import create_app
from backend.config import ConfigError, load_settings
from backend.extensions import db
from backend.issued_reports import keys as report_keys
from reports import signing
from tests.conftest import sibling_config
from tests.test_config import GOOD, report_key_env


def _unreadable(monkeypatch, path: str) -> None:
    """Reads of ``path`` fail as for a root-owned 0600 file read by the service user."""
    real = Path.read_bytes

    def read_bytes(self):
        if os.path.abspath(self) == os.path.abspath(path):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def _production(tmp_path, **overrides):
    return load_settings(tmp_path, environ={"ENV": "production", **GOOD, **report_key_env(tmp_path), **overrides})


def test_production_refuses_an_unreadable_pdf_key(tmp_path, monkeypatch):
    env = report_key_env(tmp_path)
    _unreadable(monkeypatch, env["REPORT_PDF_KEY_PATH"])
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={"ENV": "production", **GOOD, **env})
    text = str(info.value)
    assert text.startswith("production start refused: REPORT_PDF_KEY_PATH")
    assert env["REPORT_PDF_KEY_PATH"] in text and "cannot be read" in text


def test_production_refuses_an_unreadable_token_key(tmp_path, monkeypatch):
    env = report_key_env(tmp_path)
    path = env["REPORT_SIGNING_KEYS"].split(":", 1)[1]
    _unreadable(monkeypatch, path)
    with pytest.raises(ConfigError, match=r"REPORT_SIGNING_KEYS \(k1\): .* cannot be read"):
        load_settings(tmp_path, environ={"ENV": "production", **GOOD, **env})


def test_production_refuses_a_key_that_is_not_the_certificates(tmp_path):
    other_key, _ = signing.generate_self_signed(directory=tmp_path / "other")
    with pytest.raises(ConfigError, match="is not the key of the certificate"):
        _production(tmp_path, REPORT_PDF_KEY_PATH=str(other_key))


def test_production_refuses_a_certificate_that_is_not_one(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match=r"REPORT_PDF_CERT_PATH: .* is not an X\.509 certificate"):
        _production(tmp_path, REPORT_PDF_CERT_PATH=str(junk))


def test_good_material_passes(tmp_path):
    assert _production(tmp_path).is_production


@pytest.fixture
def configured_app(app, tmp_path):
    env = report_key_env(tmp_path)
    signed_app = create_app(sibling_config(app, **env))
    yield signed_app, env
    with signed_app.app_context():  # close its pools now, not in a later test's garbage collection
        for engine in db.engines.values():
            engine.dispose()


def test_readyz_reports_signing_ok_and_503_when_the_key_turns_unreadable(configured_app, monkeypatch):
    signed_app, env = configured_app
    client = signed_app.test_client()
    body = client.get("/readyz").get_json()
    assert body["checks"]["signing"] == "ok"

    # The key replaced by a directory (as a botched copy would): seen at the next probe.
    key = Path(env["REPORT_PDF_KEY_PATH"])
    key.unlink()
    key.mkdir()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["checks"]["signing"] == "unavailable"
    assert "is a directory" in body["warnings"][0] and str(key) in body["warnings"][0]


def test_readyz_503_for_a_mismatched_key(configured_app, tmp_path):
    signed_app, env = configured_app
    other_key, _ = signing.generate_self_signed(directory=tmp_path / "other")
    Path(env["REPORT_PDF_KEY_PATH"]).write_bytes(other_key.read_bytes())
    response = signed_app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "is not the key of the certificate" in response.get_json()["warnings"][0]


def test_generated_development_keys_are_not_read_by_readyz(client, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("readyz read the generated keys")

    monkeypatch.setattr(report_keys, "check_signing_material", fail)
    response = client.get("/readyz")
    assert response.status_code == 200 and "signing" not in response.get_json()["checks"]
