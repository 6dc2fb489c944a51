"""The local-file key store: generation, owner-only files, refusal of readable keys, no key in
a repr; the interface an HSM or KMS implements (docs/cryptography.md, "Keys")."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.crypto import keystore
from reports import sm2


@pytest.mark.parametrize("algorithm", [keystore.ED25519, keystore.SM2])
def test_generate_writes_an_owner_only_file_and_signs(tmp_path, algorithm):
    store = keystore.LocalFileKeyStore(tmp_path / "keys")
    key = store.generate("k1", algorithm)
    path = tmp_path / "keys" / "k1.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    loaded = store.signing_key("k1")
    assert loaded.algorithm == algorithm
    signature = loaded.sign(b"data")
    if algorithm == keystore.SM2:
        sm2.verify(key.public_key(), signature, b"data")
    else:
        assert isinstance(key.public_key(), Ed25519PublicKey)
        key.public_key().verify(signature, b"data")
    assert store.kids() == ["k1"]


def test_a_key_id_is_never_reused_and_must_be_well_formed(tmp_path):
    store = keystore.LocalFileKeyStore(tmp_path)
    store.generate("k1", keystore.SM2)
    with pytest.raises(keystore.KeyStoreError):
        store.generate("k1", keystore.SM2)
    with pytest.raises(keystore.KeyStoreError):
        store.generate("../etc", keystore.SM2)


def test_a_key_others_may_read_is_refused(tmp_path):
    store = keystore.LocalFileKeyStore(tmp_path)
    store.generate("k1", keystore.SM2)
    (tmp_path / "k1.pem").chmod(0o644)
    with pytest.raises(keystore.KeyStoreError, match="readable by others"):
        store.signing_key("k1")
    (tmp_path / "k1.pem").chmod(0o640)  # group-readable: the service user's group, allowed
    assert store.signing_key("k1").algorithm == keystore.SM2


def test_passphrase_protected_store(tmp_path):
    store = keystore.LocalFileKeyStore(tmp_path, passphrase=b"secret")
    store.generate("k1", keystore.SM2)
    assert b"ENCRYPTED" in (tmp_path / "k1.pem").read_bytes()
    assert store.signing_key("k1").algorithm == keystore.SM2
    with pytest.raises(keystore.KeyStoreError):
        keystore.LocalFileKeyStore(tmp_path).signing_key("k1")


def test_no_key_material_in_repr(tmp_path):
    key = keystore.LocalFileKeyStore(tmp_path).generate("k1", keystore.SM2)
    d = f"{key.private_key.private_numbers().private_value:x}"
    assert d not in repr(key) and d not in str(key)
    assert repr(key) == "LocalSigningKey(kid='k1', algorithm='SM2-SM3')"
