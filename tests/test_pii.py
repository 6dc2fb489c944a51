import base64

import pytest
from cryptography.exceptions import InvalidTag

from backend.config import ConfigError
from backend.pii import PiiCipher, PiiError, key_id_of, mask_id_number, mask_name

K1 = "k1:" + base64.b64encode(b"\x01" * 32).decode()
K2 = "k2:" + base64.b64encode(b"\x02" * 32).decode()


def test_round_trip_and_random_nonce():
    c = PiiCipher(K1, "hash-key")
    a = c.encrypt("620302199003072516", "subject.id_number")
    b = c.encrypt("620302199003072516", "subject.id_number")
    assert a != b
    assert "620302199003072516" not in a
    assert a.startswith("k1.")
    assert c.decrypt(a, "subject.id_number") == "620302199003072516"


def test_context_is_bound():
    c = PiiCipher(K1, "hash-key")
    token = c.encrypt("张三", "subject.name")
    with pytest.raises(InvalidTag):
        c.decrypt(token, "subject.id_number")


def test_rotation_new_key_encrypts_old_key_still_decrypts():
    old = PiiCipher(K1, "h")
    token = old.encrypt("张三", "subject.name")
    rotated = PiiCipher(K2 + "," + K1, "h")
    assert rotated.decrypt(token, "subject.name") == "张三"
    assert rotated.needs_rotation(token)
    assert not rotated.needs_rotation(rotated.encrypt("张三", "subject.name"))
    with pytest.raises(PiiError):
        PiiCipher(K2, "h").decrypt(token, "subject.name")


def test_reencrypt_moves_a_value_to_the_active_key_with_its_context():
    token = PiiCipher(K1, "h").encrypt("张三", "subject.name")
    rotated = PiiCipher(K2 + "," + K1, "h")
    assert rotated.key_ids == ("k2", "k1") and key_id_of(token) == "k1"
    again = rotated.reencrypt(token, "subject.name")
    assert key_id_of(again) == "k2" and not rotated.needs_rotation(again)
    assert PiiCipher(K2, "h").decrypt(again, "subject.name") == "张三"
    with pytest.raises(InvalidTag):
        rotated.reencrypt(token, "subject.id_number")
    with pytest.raises(PiiError):
        PiiCipher(K2, "h").reencrypt(token, "subject.name")


def test_lookup_hash_is_keyed_and_stable():
    a = PiiCipher(K1, "key-a")
    b = PiiCipher(K1, "key-b")
    assert a.lookup_hash("620302199003072516", "id_number") == a.lookup_hash("620302199003072516", "id_number")
    assert a.lookup_hash("620302199003072516", "id_number") != b.lookup_hash("620302199003072516", "id_number")


def test_bad_key_ring_refused():
    with pytest.raises(ConfigError, match="32 bytes"):
        PiiCipher("k:" + base64.b64encode(b"short").decode(), "h")
    with pytest.raises(ConfigError, match="kid:base64key"):
        PiiCipher("nokid", "h")


@pytest.mark.parametrize(
    ("name", "masked"), [("张三明", "张*明"), ("张三", "张*"), ("欧阳小明", "欧**明"), ("李", "*"), ("", "")]
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_mask_id_number():
    assert mask_id_number("620302199003072516") == "6203**********2516"
    assert mask_id_number("") == ""
