"""Personal data under both suites: SM4-GCM values name their cipher and key, AES values stay
readable after the switch, and rotation moves every value from one suite to the other."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from backend.config import ConfigError, load_settings
from backend.crypto.primitives import hmac_sm3
from backend.extensions import db
from backend.pii import PiiCipher, PiiError, algorithm_of, key_id_of
from backend.pii_rotation import rotate, survey
from backend.records.operations import new_natural_subject_row
from backend.subjects.models import Subject

AES = "a1:" + base64.b64encode(b"\x01" * 32).decode()
SM4 = "s1:sm4:" + base64.b64encode(b"\x02" * 16).decode()
RING = f"{AES},{SM4}"


def test_sm4_round_trip_names_cipher_and_key():
    c = PiiCipher(RING, "h", "sm")
    token = c.encrypt("620302199003072516", "subject.id_number")
    assert token.startswith("s1.sm4-gcm.")
    assert "620302199003072516" not in token
    assert key_id_of(token) == "s1" and algorithm_of(token) == "SM4-GCM"
    assert c.decrypt(token, "subject.id_number") == "620302199003072516"
    with pytest.raises(InvalidTag):  # the column is the associated data
        c.decrypt(token, "subject.name")


def test_the_suite_picks_the_first_key_of_its_cipher_whatever_the_order():
    assert PiiCipher(RING, "h", "sm").active_kid == "s1"
    assert PiiCipher(RING, "h", "international").active_kid == "a1"
    with pytest.raises(PiiError):
        PiiCipher(AES, "h", "sm")


def test_values_of_both_suites_decrypt_side_by_side():
    old = PiiCipher(RING, "h", "international").encrypt("张三", "subject.name")
    assert algorithm_of(old) == "AES-256-GCM"
    sm = PiiCipher(RING, "h", "sm")
    assert sm.decrypt(old, "subject.name") == "张三"
    assert sm.needs_rotation(old)
    moved = sm.reencrypt(old, "subject.name")
    assert algorithm_of(moved) == "SM4-GCM" and not sm.needs_rotation(moved)


def test_a_value_claiming_another_cipher_than_its_key_is_refused():
    sm = PiiCipher(RING, "h", "sm")
    token = sm.encrypt("张三", "subject.name")
    forged = "a1." + token.split(".", 1)[1]  # the SM4 value relabelled with the AES key's id
    with pytest.raises(PiiError):
        sm.decrypt(forged, "subject.name")
    with pytest.raises(PiiError):
        sm.decrypt("s1.rot13." + token.rsplit(".", 1)[1], "subject.name")


def test_lookup_hash_hmac_sm3_with_an_sm3_hash_key():
    c = PiiCipher(RING, "sm3:secret", "sm")
    assert c.lookup_mac == "HMAC-SM3"
    assert (
        c.lookup_hash("620302199003072516", "id_number")
        == hmac_sm3(b"secret", b"id_number\x00620302199003072516").hex()
    )
    assert c.lookup_hash("x", "p") != PiiCipher(RING, "secret", "sm").lookup_hash("x", "p")


def test_config_refuses_a_suite_without_a_key_of_its_cipher(tmp_path):
    with pytest.raises(ConfigError, match="SM4-GCM"):
        load_settings(tmp_path, {"ENV": "testing", "PII_ENCRYPTION_KEYS": AES, "CRYPTO_SUITE": "sm"})
    with pytest.raises(ConfigError, match="CRYPTO_SUITE"):
        load_settings(tmp_path, {"ENV": "testing", "PII_ENCRYPTION_KEYS": RING, "CRYPTO_SUITE": "gost"})
    with pytest.raises(ConfigError, match="16 bytes"):
        load_settings(
            tmp_path, {"ENV": "testing", "PII_ENCRYPTION_KEYS": "s1:sm4:" + base64.b64encode(b"x" * 32).decode()}
        )
    assert (
        load_settings(tmp_path, {"ENV": "testing", "PII_ENCRYPTION_KEYS": RING, "CRYPTO_SUITE": "sm"}).CRYPTO_SUITE
        == "sm"
    )


def test_rotation_moves_personal_data_from_the_international_suite_to_sm(app, monkeypatch):
    hash_key = app.extensions["settings"].PII_HASH_KEY
    international = PiiCipher(RING, hash_key, "international")
    monkeypatch.setitem(app.extensions, "pii", international)
    for n in range(3):
        db.session.execute(sa.insert(Subject).values(new_natural_subject_row(f"62030219900307{n:03d}X", f"张{n}")))
    db.session.flush()

    sm = PiiCipher(RING, hash_key, "sm")
    monkeypatch.setitem(app.extensions, "pii", sm)
    found = survey(sm)
    assert found["subject.id_number_encrypted"] == {"a1": 3}
    for batch in rotate(sm, batch_size=2):
        assert not batch.failures
    rows = db.session.execute(sa.select(Subject.id_number_encrypted, Subject.name_encrypted, Subject.pii_key_id)).all()
    assert len(rows) == 3
    for id_number, name, kid in rows:
        assert algorithm_of(id_number) == algorithm_of(name) == "SM4-GCM" and kid == "s1"
    names = sorted(sm.decrypt(name, "subject.name") for _, name, _ in rows)
    assert names == ["张0", "张1", "张2"]
    assert sum(sum(c.values()) for c in survey(sm).values()) == 0
