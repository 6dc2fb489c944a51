"""Every SM primitive against the standards' own examples, and SM2 against an independent
implementation (``snowland-smx``, pure Python) in both directions."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backend.crypto import primitives
from reports import sm2
from tests.crypto.independent import independent_sm2, needs_independent

# GB/T 32918.5-2017 Annex A / GM/T 0003.5-2012 (recommended curve), the signature example:
# ID_A = "1234567812345678", M = "message digest".
SM2_D = int("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", 16)
SM2_XA = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
SM2_YA = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
SM2_K = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21"
SM2_ZA = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
SM2_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
SM2_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
SM2_MESSAGE = b"message digest"
UID = sm2.DEFAULT_USER_ID.decode()


# --- SM3, GB/T 32905-2016 Annex A -------------------------------------------------------------


def test_sm3_example_1_abc():
    assert primitives.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm3_example_2_sixteen_abcd():
    assert primitives.sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_hmac_sm3_is_rfc2104_over_sm3():
    # HMAC built by hand from its definition (RFC 2104 / GB/T 15852.2 MAC 2) with SM3, block 64.
    key, message = b"key", b"The quick brown fox jumps over the lazy dog"
    padded = key.ljust(64, b"\0")
    inner = primitives.sm3(bytes(b ^ 0x36 for b in padded) + message)
    expected = primitives.sm3(bytes(b ^ 0x5C for b in padded) + inner)
    assert primitives.hmac_sm3(key, message) == expected
    assert primitives.mac("HMAC-SM3", key, message) == expected


# --- SM4, GB/T 32907-2016 Annex A -------------------------------------------------------------

SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm4_example_1():
    enc = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()  # noqa: S305 (one block: the standard's example)
    assert enc.update(SM4_KEY).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_example_2_a_million_encryptions():
    encryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()  # noqa: S305 (the standard's example)
    update = encryptor.update
    block = SM4_KEY
    for _ in range(1_000_000):
        block = update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


# --- SM4-GCM, RFC 8998 Appendix A.1 (GB/T 17964-2021's GCM with SM4) ----------------------------

GCM_IV = bytes.fromhex("00001234567800000000ABCD")
GCM_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
GCM_PT = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
GCM_CT = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
GCM_TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")


def test_sm4_gcm_rfc8998_example():
    aead = primitives.Sm4Gcm(SM4_KEY)
    assert aead.encrypt(GCM_IV, GCM_PT, GCM_AAD) == GCM_CT + GCM_TAG
    assert aead.decrypt(GCM_IV, GCM_CT + GCM_TAG, GCM_AAD) == GCM_PT


@pytest.mark.parametrize("what", ["ciphertext", "tag", "aad"])
def test_sm4_gcm_refuses_any_change(what):
    aead = primitives.Sm4Gcm(SM4_KEY)
    sealed, aad = bytearray(GCM_CT + GCM_TAG), GCM_AAD
    if what == "ciphertext":
        sealed[0] ^= 1
    elif what == "tag":
        sealed[-1] ^= 1
    else:
        aad = b"subject.name"
    with pytest.raises(InvalidTag):
        aead.decrypt(GCM_IV, bytes(sealed), aad)


# --- SM2, GB/T 32918.5-2017 / GM/T 0003.5-2012 example, and the cross-check -----------------


def _standard_key():
    return sm2.private_key_from_int(SM2_D)


def test_sm2_public_key_of_the_example():
    assert sm2.public_point(_standard_key()).hex().upper() == "04" + SM2_XA + SM2_YA


def test_sm2_production_library_verifies_the_standard_signature():
    public = sm2.public_key_from_point(bytes.fromhex("04" + SM2_XA + SM2_YA))
    sm2.verify(public, bytes.fromhex(SM2_R + SM2_S), SM2_MESSAGE)  # Z_A with the default ID
    with pytest.raises(InvalidSignature):
        sm2.verify(public, bytes.fromhex(SM2_R + SM2_S), SM2_MESSAGE + b"!")


@needs_independent
def test_sm2_independent_library_reproduces_the_standard_signature():
    d_hex = f"{SM2_D:064X}"
    assert independent_sm2.get_za(UID, SM2_XA + SM2_YA, 64).upper() == SM2_ZA
    signature = independent_sm2.Sign(SM2_MESSAGE, d_hex, SM2_K, 64, uid=UID)  # k fixed as in the standard
    assert signature.hex().upper() == SM2_R + SM2_S


@needs_independent
def test_sm2_signed_by_production_verified_by_independent():
    key = sm2.generate_key()
    point = sm2.public_point(key)[1:].hex()
    for message in (b"", b"message digest", "信用金昌".encode() * 500):
        signature = sm2.sign(key, message)
        assert independent_sm2.Verify(signature, message, point, 64, uid=UID)
        assert not independent_sm2.Verify(signature, message + b"x", point, 64, uid=UID)


@needs_independent
def test_sm2_signed_by_independent_verified_by_production():
    key = sm2.generate_key()
    d_hex = f"{key.private_numbers().private_value:064x}"
    public = key.public_key()
    for message in (b"", b"message digest", "信用金昌".encode() * 500):
        signature = independent_sm2.Sign(message, d_hex, os.urandom(32).hex(), 64, uid=UID)
        sm2.verify(public, signature, message)
        with pytest.raises(InvalidSignature):
            sm2.verify(public, signature, message + b"x")


def test_sm2_refuses_out_of_range_and_wrong_length():
    public = _standard_key().public_key()
    with pytest.raises(InvalidSignature):
        sm2.verify(public, b"\0" * 64, SM2_MESSAGE)
    with pytest.raises(InvalidSignature):
        sm2.verify(public, bytes.fromhex(SM2_R + SM2_S)[:63], SM2_MESSAGE)
    n = sm2.CURVE_ORDER.to_bytes(32, "big")
    with pytest.raises(InvalidSignature):
        sm2.verify(public, bytes.fromhex(SM2_R) + n, SM2_MESSAGE)


def test_sm2_key_pem_round_trip_with_and_without_passphrase():
    key = sm2.generate_key()
    again = sm2.load_private_key(sm2.private_key_to_pem(key))
    assert sm2.public_point(again) == sm2.public_point(key)
    locked = sm2.private_key_to_pem(key, b"pass")
    assert b"ENCRYPTED" in locked
    assert sm2.public_point(sm2.load_private_key(locked, b"pass")) == sm2.public_point(key)
