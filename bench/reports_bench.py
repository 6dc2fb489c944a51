"""Report benchmarks: ``python -m bench.reports_bench`` (``bench/run.py`` may call ``run()``).

1. Render + sign a two-page enterprise report (``reports.benchmark.measure``), beside a one-page
   plain reportlab document rendered in the same run: median ≤ 50 ms (≥ 20 reports/s), signed
   PDF ≤ 300 KB.
2. ``issue_report`` end to end (content from the database, token, render, PAdES, storage,
   registry row, audit row), for information: what a counter or mini-program request costs.
3. Verification lookup by token in-process (``verify_token_text``: Ed25519 check + registry
   look-up by number + status): p99 ≤ 5 ms, beside a bare primary-key SELECT.

Runs on a throw-away SQLite database and keys in a temporary folder; nothing is kept.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TARGET_RENDER_SIGN_MEDIAN_MS = 50.0
TARGET_PDF_KB = 300.0
TARGET_VERIFY_P99_MS = 5.0

CONFIG = {
    "ENV": "testing",
    "SECRET_KEY": "bench-only-secret-key-not-for-any-real-deployment",
    "PII_ENCRYPTION_KEYS": "bench1:" + base64.b64encode(hashlib.sha256(b"bench-pii").digest()).decode(),
    "PII_HASH_KEY": "bench-only-hash-key",
    "RATELIMIT_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "PUBLIC_BASE_URL": "https://credit.jinchang.gov.cn",
}


@dataclass(frozen=True)
class Line:
    label: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: information only

    def text(self) -> str:
        verdict = "" if self.ok is None else ("PASS" if self.ok else "FAIL")
        return f"{self.label:<58} {self.value:<34} {self.target:<16} {verdict}".rstrip()


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    p50 = ordered[len(ordered) // 2] / 1e6
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6
    return p50, p99


def render_and_sign(runs: int) -> list[Line]:
    from reports.benchmark import measure

    result = measure(runs)
    per_second = 1000.0 / result.total_ms_median
    return [
        Line(
            f"render + sign, {result.pages}-page enterprise report ({runs} runs), median",
            f"{result.total_ms_median:.1f} ms ({per_second:.0f}/s; CPU {result.total_cpu_ms_median:.1f} ms)",
            f"<= {TARGET_RENDER_SIGN_MEDIAN_MS:.0f} ms",
            result.total_ms_median <= TARGET_RENDER_SIGN_MEDIAN_MS and result.pages == 2,
        ),
        Line("  of which render / sign (median)", f"{result.render_ms_median:.1f} / {result.sign_ms_median:.1f} ms"),
        Line("  baseline: one-page plain reportlab document, median", f"{result.baseline_ms_median:.1f} ms"),
        Line(
            "signed PDF size",
            f"{result.pdf_bytes / 1024:.1f} KB",
            f"<= {TARGET_PDF_KB:.0f} KB",
            result.pdf_bytes / 1024 <= TARGET_PDF_KB,
        ),
        Line("QR version (level M, 30-character base URL)", str(result.qr_version)),
    ]


def _app(folder: Path):
    from flask_migrate import upgrade

    from backend.app import create_app
    from backend.issued_reports.keys import EXTENSION_KEY, ReportKeys
    from backend.storage import LocalStorage
    from reports import signing, tokens

    app = create_app({**CONFIG, "DATABASE_URL": f"sqlite:///{folder / 'reports-bench.db'}"})
    with app.app_context():
        upgrade()
    key = tokens.generate_key()
    pdf_key, pdf_cert = signing.generate_self_signed(directory=folder)
    app.extensions[EXTENSION_KEY] = ReportKeys(
        kid="bench1",
        private_key=key,
        public_keys=tokens.trust_keys([("bench1", key)]),
        pdf_key_path=str(pdf_key),
        pdf_cert_path=str(pdf_cert),
        pdf_chain_paths=(),
        pdf_passphrase=None,
    )
    app.extensions["storage"] = LocalStorage(folder / "storage")
    return app


def _seed(reports: int):
    """An enterprise with a few records, and ``reports`` issued reports; returns their tokens."""
    import sqlalchemy as sa

    from backend.actors import Actor
    from backend.departments.operations import create_department
    from backend.extensions import db
    from backend.identifiers import org_code_check_char, uscc_with_check
    from backend.issued_reports.operations import issue_report
    from backend.records.models import PenaltyTier, RecordCategory
    from backend.records.operations import RecordInput, RecordWriter
    from backend.records.publicity import PublicityRules
    from backend.subjects.models import Subject
    from backend.workdays.service import WorkdayCalendar
    from reports import tokens

    dept_code = "01392601"
    department = create_department(
        Actor.cli("bench"),
        code="SCJG",
        name="金昌市市场监督管理局",
        uscc=uscc_with_check("11620300" + dept_code + org_code_check_char(dept_code)),
        abbreviation="金市监罚",
    )
    body = "MA71K2X4"
    uscc = uscc_with_check("91620300" + body + org_code_check_char(body))
    today = dt.date.today()
    items = [
        RecordInput(
            department_id=department.id,
            category=RecordCategory.PENALTY,
            tier=PenaltyTier.GENERAL,
            decision_number=f"金市监罚〔{today.year}〕{100 + i}号",
            decision_date=today - dt.timedelta(days=30 + 9 * i),
            received_date=today,
            subject_name="金昌市金川有色金属物流有限责任公司",
            uscc=uscc,
            violation_type="未按规定对危险化学品储存场所进行安全检查",
            facts="当事人在生产经营过程中未按规定对危险化学品储存场所进行安全检查，未建立隐患排查治理台账。",
            penalty_category="罚款",
            penalty_content="警告，并处罚款人民币贰万元整",
        )
        for i in range(6)
    ]
    RecordWriter(WorkdayCalendar(), PublicityRules(), timely_days=7).write(items)
    db.session.flush()
    subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
    issue_times = []
    urls = []
    for _ in range(reports):
        t0 = time.perf_counter_ns()
        issued = issue_report(Actor.public(), subject, "enterprise")
        issue_times.append(time.perf_counter_ns() - t0)
        urls.append(tokens.token_from_url(issued.verification_url))
    db.session.commit()
    return urls, issue_times


def verification(reports: int, samples: int, warmup: int) -> list[Line]:
    import random

    import sqlalchemy as sa

    from backend.extensions import db
    from backend.issued_reports.models import IssuedReport
    from backend.issued_reports.verification import verify_token_text

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp))
        with app.app_context():
            tokens_list, issue_ns = _seed(reports)
            ids = list(db.session.scalars(sa.select(IssuedReport.id)))
            rng = random.Random(2026)
            for _ in range(warmup):
                verify_token_text(rng.choice(tokens_list))
            verify_ns, base_ns = [], []
            for _ in range(samples):
                token = rng.choice(tokens_list)
                t0 = time.perf_counter_ns()
                verdict = verify_token_text(token)
                verify_ns.append(time.perf_counter_ns() - t0)
                assert verdict.genuine and verdict.status == "valid", verdict
                report_id = rng.choice(ids)
                t0 = time.perf_counter_ns()
                db.session.execute(sa.select(IssuedReport.number).where(IssuedReport.id == report_id)).scalar_one()
                base_ns.append(time.perf_counter_ns() - t0)
            db.session.remove()
            db.engine.dispose()
    issue_median = statistics.median(issue_ns) / 1e6
    v50, v99 = _percentiles(verify_ns)
    b50, b99 = _percentiles(base_ns)
    return [
        Line(
            f"issue_report end to end, enterprise ({reports} reports), median",
            f"{issue_median:.1f} ms",
        ),
        Line(
            f"verify by token in-process ({samples} samples), p50 / p99",
            f"{v50:.2f} / {v99:.2f} ms",
            f"p99 <= {TARGET_VERIFY_P99_MS:.0f} ms",
            v99 <= TARGET_VERIFY_P99_MS,
        ),
        Line("  baseline: primary-key SELECT, p50 / p99", f"{b50:.3f} / {b99:.3f} ms"),
    ]


def run(argv: list[str] | None = None) -> tuple[list[Line], bool]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30, help="render + sign repetitions")
    parser.add_argument("--reports", type=int, default=50, help="reports issued before timing verification")
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args(argv)
    lines = render_and_sign(args.runs) + verification(args.reports, args.samples, args.warmup)
    return lines, all(line.ok is not False for line in lines)


def main(argv: list[str] | None = None) -> int:
    lines, ok = run(argv)
    for line in lines:
        print(line.text())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
