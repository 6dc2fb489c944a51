"""The platform's cryptography in one place: which algorithms the city's suite uses
(``suite``), the primitives (``primitives``) and where keys live (``keystore``).

Two suites, chosen by ``CRYPTO_SUITE``: ``international`` (AES-256-GCM, HMAC-SHA256, Ed25519,
SHA-256) and ``sm`` (国密: SM4-GCM, HMAC-SM3, SM2 with SM3, SM3). Every stored or signed artefact
names its algorithm and key id, so artefacts of both suites verify side by side and the
rotation tools move them from one suite to the other. docs/cryptography.md has the whole map.
"""
