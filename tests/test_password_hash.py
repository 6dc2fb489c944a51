"""Staff password hashing: scrypt everywhere but under ENV=testing, where the suite uses a cheap
hash (every staff login of the suite would otherwise pay ~0.2 s of scrypt twice)."""

from __future__ import annotations

import pytest

from backend.config import ConfigError, load_settings
from backend.staff.models import StaffRole
from tests.test_config import GOOD, report_key_env

CHEAP = "pbkdf2:sha256:1"


@pytest.mark.parametrize("method", [CHEAP, "pbkdf2:sha256:600000", "scrypt:16384:8:1", "scrypt:32768:4:1", "md5"])
def test_production_settings_refuse_a_cheaper_password_hash(tmp_path, method):
    env = {"ENV": "production", **GOOD, **report_key_env(tmp_path), "STAFF_PASSWORD_HASH": method}
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ=env)
    assert "STAFF_PASSWORD_HASH" in str(info.value)


def test_development_refuses_the_cheap_hash_too(tmp_path):
    with pytest.raises(ConfigError, match="STAFF_PASSWORD_HASH"):
        load_settings(tmp_path, environ={"ENV": "development", "STAFF_PASSWORD_HASH": CHEAP})


@pytest.mark.parametrize("method", ["scrypt", "scrypt:32768:8:1", "scrypt:65536:8:2"])
def test_production_keeps_scrypt_at_least_as_strong_as_the_default(tmp_path, method):
    env = {"ENV": "production", **GOOD, **report_key_env(tmp_path), "STAFF_PASSWORD_HASH": method}
    chosen = load_settings(tmp_path, environ=env).STAFF_PASSWORD_HASH
    assert chosen == method


def test_the_default_is_werkzeugs_scrypt(tmp_path):
    assert load_settings(tmp_path, environ={"ENV": "development"}).STAFF_PASSWORD_HASH == "scrypt:32768:8:1"


def test_the_suite_hashes_with_the_cheap_method_and_signs_in(app, client):
    from test_staff_auth import login_as

    assert app.extensions["settings"].STAFF_PASSWORD_HASH == CHEAP
    user = login_as(client, StaffRole.AUDITOR)
    assert user.password_hash.startswith(CHEAP + "$")


def test_a_scrypt_hash_still_verifies_under_testing(app):
    """Stored hashes carry their method: a production (scrypt) hash checks under any setting."""
    from werkzeug.security import generate_password_hash

    from backend.staff.models import StaffUser

    user = StaffUser(username="x", display_name="x", role=StaffRole.AUDITOR)
    user.password_hash = generate_password_hash("correct-horse-battery", method="scrypt")
    assert user.check_password("correct-horse-battery")
    assert not user.check_password("wrong-horse-battery")
