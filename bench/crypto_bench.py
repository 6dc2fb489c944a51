"""Crypto suites side by side: ``python -m bench.crypto_bench`` (``bench/run.py`` calls ``run()``).

For the international suite and the 国密 suite, the median time of:

1. personal-data decrypt per record (a natural person's ID number and name: two AEAD opens,
   AES-256-GCM vs SM4-GCM, through ``PiiCipher``);
2. QR token sign and token verify (Ed25519 vs SM2-SM3 on Tongsuo, ``reports.tokens``);
3. report sign: PAdES over a rendered report plus the platform's signature over the signed file
   (the part that differs: Ed25519 vs SM2), and that file signature alone;
4. audit append (``record_event`` + flush on a throw-away SQLite database: SHA-256 vs SM3 chain
   hash), per row.

For information, no targets: the figures tell a city what the switch costs. Nothing is kept.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

SUITES = ("international", "sm")
RING = (
    "bench1:" + base64.b64encode(hashlib.sha256(b"bench-pii").digest()).decode()
    + ",benchsm1:sm4:" + base64.b64encode(hashlib.sha256(b"bench-sm4").digest()[:16]).decode()
)  # fmt: skip
HASH_KEYS = {"international": "bench-only-hash-key", "sm": "sm3:bench-only-hash-key"}


@dataclass
class Line:
    label: str
    micros: dict[str, float]  # suite -> median µs per operation

    def text(self) -> str:
        a, b = self.micros["international"], self.micros["sm"]
        return f"  {self.label:<38} {a:>10.1f} µs {b:>10.1f} µs   x{b / a:5.2f}"

    ok = None  # information only (bench/run.py checks ``ok is not False``)


def _median_us(function: Callable[[], object], runs: int) -> float:
    for _ in range(max(3, runs // 10)):
        function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        function()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def personal_data(runs: int) -> Line:
    from backend.pii import PiiCipher

    out = {}
    for suite in SUITES:
        pii = PiiCipher(RING, HASH_KEYS[suite], suite)
        id_number = pii.encrypt("620302199003072516", "subject.id_number")
        name = pii.encrypt("张明华", "subject.name")
        out[suite] = _median_us(
            lambda pii=pii, a=id_number, b=name: (pii.decrypt(a, "subject.id_number"), pii.decrypt(b, "subject.name")),
            runs,
        )
    return Line("personal data: decrypt one record", out)


def _keys():
    from reports import sm2, tokens

    return {"international": tokens.generate_key(), "sm": sm2.generate_key()}


def tokens_sign_verify(runs: int) -> list[Line]:
    from reports import tokens

    keys = _keys()
    sign, verify = {}, {}
    for suite, key in keys.items():
        kwargs = {
            "number": "JCXY-20261203-7K3M9Q2XHD",
            "kind": "enterprise",
            "issued_on": date(2026, 12, 3),
            "content_hash": hashlib.sha256(b"content").hexdigest(),
        }
        sign[suite] = _median_us(lambda key=key, kwargs=kwargs: tokens.sign_token(key, "k1", **kwargs), runs)
        token = tokens.sign_token(key, "k1", **kwargs)
        ring = tokens.trust_keys([("k1", key)])
        verify[suite] = _median_us(lambda token=token, ring=ring: tokens.verify_token(token, ring), runs)
    return [Line("QR token: sign", sign), Line("QR token: verify", verify)]


def report_sign(runs: int, folder: Path) -> list[Line]:
    from dataclasses import replace

    from reports import render, signing, sm2
    from reports.samples import sample_content

    keys = _keys()
    signer = signing.cached_signer(*signing.generate_self_signed(directory=folder / "cert"))
    content = sample_content("enterprise", number="JCXY-20261203-7K3M9Q2XHD")
    pdf = render.render_pdf(replace(content, verification_url="https://credit.jinchang.gov.cn/v/1"))
    signed = signing.sign_pdf(pdf, signer)

    def file_signature(key):
        return sm2.sign(key, signed) if sm2.is_private_key(key) else key.sign(signed)

    whole, alone = {}, {}
    for suite, key in keys.items():
        whole[suite] = _median_us(
            lambda key=key: file_signature(key) and signing.sign_pdf(pdf, signer), max(5, runs // 20)
        )
        alone[suite] = _median_us(lambda key=key: file_signature(key), runs)
    return [
        Line(f"report: PAdES + file signature ({len(signed) // 1024} KB)", whole),
        Line("report: file signature alone", alone),
    ]


def audit_append(runs: int, folder: Path) -> Line:
    from flask_migrate import upgrade

    from backend.actors import Actor
    from backend.app import create_app
    from backend.audit.operations import record_event
    from backend.extensions import db

    out = {}
    for suite in SUITES:
        app = create_app(
            {
                "ENV": "testing",
                "SECRET_KEY": "bench-only-secret-key-not-for-any-real-deployment",
                "PII_ENCRYPTION_KEYS": RING,
                "PII_HASH_KEY": HASH_KEYS[suite],
                "CRYPTO_SUITE": suite,
                "DATABASE_URL": f"sqlite:///{folder / f'audit-{suite}.db'}",
                "RATELIMIT_ENABLED": False,
                "LOG_LEVEL": "WARNING",
                "STORAGE_DIR": str(folder / "storage"),
            }
        )
        with app.app_context():
            upgrade()
            actor = Actor.cli("bench")
            details = {"subject": 12345, "purpose": "信用报告出具", "fields": ["name", "id_number"]}
            out[suite] = _median_us(
                lambda actor=actor, details=details: record_event(actor, "bench.append", details=details), runs
            )
            db.session.rollback()
            db.engine.dispose()
    return Line("audit: append one row (+ flush)", out)


def run(argv: list[str] | None = None) -> tuple[list[Line], bool]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500, help="repetitions per measure (PAdES: a twentieth)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = [personal_data(args.runs)]
        lines += tokens_sign_verify(args.runs)
        lines += report_sign(args.runs, folder)
        lines.append(audit_append(args.runs, folder))
    return lines, True


def header() -> str:
    return f"  {'median per operation':<38} {'international':>13} {'国密 (sm)':>13}   ratio"


def main(argv: list[str] | None = None) -> int:
    lines, _ = run(argv)
    print("crypto suites: international (AES-GCM, Ed25519, SHA-256) vs 国密 (SM4-GCM, SM2, SM3)")
    print(header())
    for line in lines:
        print(line.text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
