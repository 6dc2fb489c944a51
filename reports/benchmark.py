"""Measure render + sign of a two-page enterprise report: ``python -m reports.benchmark``.

Prints the median and best time over N runs, the PDF size, the QR version, and a baseline (a
one-page plain reportlab document rendered in the same run) so figures from different machines
can be compared. ``bench/`` can call ``measure()`` and put the numbers in its own table.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from dataclasses import dataclass, replace

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate

from . import render, signing, tokens
from .samples import sample_content

BASE_URL = "https://credit.jinchang.gov.cn"  # 30 characters, the size the QR target assumes


@dataclass(frozen=True)
class BenchResult:
    runs: int
    pages: int
    render_ms_median: float
    sign_ms_median: float
    total_ms_median: float
    total_ms_best: float
    total_cpu_ms_median: float  # process CPU time: less disturbed by other load on the machine
    baseline_ms_median: float
    pdf_bytes: int
    qr_version: int

    def lines(self) -> list[str]:
        return [
            f"render + sign, {self.pages}-page enterprise report ({self.runs} runs): "
            f"median {self.total_ms_median:.1f} ms (render {self.render_ms_median:.1f}, "
            f"sign {self.sign_ms_median:.1f}), best {self.total_ms_best:.1f} ms, "
            f"CPU time median {self.total_cpu_ms_median:.1f} ms",
            f"baseline one-page plain reportlab document: median {self.baseline_ms_median:.1f} ms",
            f"signed PDF size: {self.pdf_bytes / 1024:.1f} KB",
            f"QR version at level M for a {len(BASE_URL)}-character base URL: {self.qr_version}",
        ]


def _baseline() -> bytes:
    buffer = io.BytesIO()
    styles = getSampleStyleSheet()
    doc = SimpleDocTemplate(buffer, pagesize=A4)
    doc.build([Paragraph(f"Baseline paragraph {i}.", styles["Normal"]) for i in range(40)])
    return buffer.getvalue()


def measure(runs: int = 30) -> BenchResult:
    key = tokens.generate_key()
    with tempfile.TemporaryDirectory() as tmp:
        key_path, cert_path = signing.generate_self_signed(directory=tmp)
        signer = signing.cached_signer(key_path, cert_path)
    render.warm_up()  # font parsing and signer loading happen once per process, not per report
    content = sample_content("enterprise", penalties=1)
    token = tokens.sign_token(
        key,
        "2026a",
        number=content.number,
        kind=content.kind,
        issued_on=content.issued_at.date(),
        content_hash=content.content_hash,
    )
    content = replace(content, verification_url=tokens.token_url(BASE_URL, token))
    signed = signing.sign_pdf(render.render_pdf(content), signer)
    _baseline()
    rendering, sign, total, cpu, base = [], [], [], [], []
    for _ in range(runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        pdf = render.render_pdf(content)
        t1 = time.perf_counter()
        signed = signing.sign_pdf(pdf, signer)
        t2 = time.perf_counter()
        c2 = time.process_time()
        _baseline()
        t3 = time.perf_counter()
        rendering.append(t1 - t0)
        sign.append(t2 - t1)
        total.append(t2 - t0)
        cpu.append(c2 - c0)
        base.append(t3 - t2)
    ms = 1000
    return BenchResult(
        runs=runs,
        pages=_count_pages(signed),
        render_ms_median=statistics.median(rendering) * ms,
        sign_ms_median=statistics.median(sign) * ms,
        total_ms_median=statistics.median(total) * ms,
        total_ms_best=min(total) * ms,
        total_cpu_ms_median=statistics.median(cpu) * ms,
        baseline_ms_median=statistics.median(base) * ms,
        pdf_bytes=len(signed),
        qr_version=tokens.qr_version(content.verification_url),
    )


def _count_pages(pdf: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    for line in measure(args.runs).lines():
        print(line)


if __name__ == "__main__":
    main()
