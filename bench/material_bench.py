"""Material check throughput: ``python -m bench.material_bench`` (``bench/run.py`` calls ``run()``).

The upload checker (``backend.workflows.materials.operations.check_material``) on ordinary files
(a multi-page reportlab PDF with photos, a text-only one, a JPEG, a PNG) and on adversarial ones
of about the same size (the security review's ``%PDF-1.4`` + ``<`` x N + ``%%EOF`` scaled to
4 MB, ``<<`` runs, ``stream`` keywords, deep nesting, many small objects, one huge array, page
objects, an object stream bomb). Each file is checked ``--runs`` times; the median gives MB/s.

Target (issue 14): the adversarial files' throughput is of the same order as the ordinary
PDFs' (the slowest adversarial file at least a tenth of the slowest ordinary PDF's MB/s), and no
file takes more than 2 s. Files with more than checks.MAX_TOKENS token boundaries are refused at
memory speed before qpdf; the three files just under that cap show the most work qpdf and the
object scan can be made to do (about 1 s, whatever the file's size).
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

MB = 1024 * 1024
SIZE = 4 * MB
TARGET_RATIO = 0.1  # slowest adversarial MB/s >= 0.1 x slowest ordinary PDF MB/s
TARGET_MAX_SECONDS = 2.0


@dataclass(frozen=True)
class Line:
    label: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: information only

    def text(self) -> str:
        verdict = "" if self.ok is None else ("PASS" if self.ok else "FAIL")
        return f"{self.label:<58} {self.value:<34} {self.target:<16} {verdict}".rstrip()


# --- ordinary files --------------------------------------------------------------------------


def _noise_image(fmt: str, size: tuple[int, int], seed: int) -> bytes:
    from PIL import Image

    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return out.getvalue()


def reportlab_pdf(pages: int, *, photos: bool) -> bytes:
    """A real multi-page PDF: text on every page, with ``photos`` a distinct photo on each."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for page in range(pages):
        pdf.setFont("Helvetica", 11)
        for line in range(45):
            pdf.drawString(60, 780 - 16 * line, f"Page {page + 1}, line {line + 1}: penalty decision and proof")
        if photos:
            photo = ImageReader(io.BytesIO(_noise_image("JPEG", (420, 310), page)))
            pdf.drawImage(photo, 60, 60, width=470, height=350)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def ordinary_files() -> list[tuple[str, bytes]]:
    return [
        ("reportlab PDF, 30 pages with photos", reportlab_pdf(30, photos=True)),
        ("reportlab PDF, 50 pages of text", reportlab_pdf(50, photos=False)),
        ("JPEG photo 1800 x 1300", _noise_image("JPEG", (1800, 1300), 1)),
        ("PNG 1200 x 1100", _noise_image("PNG", (1200, 1100), 2)),
    ]


# --- adversarial files -------------------------------------------------------------------------


def _with_xref(objects: list[bytes]) -> bytes:
    """A PDF whose cross-reference table is right: the parser reads it as written."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, start)
    return bytes(out)


def _catalog_and(objects: list[bytes]) -> bytes:
    head = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", b"<< /Type /Page >>"]
    return _with_xref(head + objects)


def _objstm_bomb() -> bytes:
    """Many small object streams, each inflating to 1 MB of zeros (about 1 KB each)."""
    one = zlib.compress(b"0 0\n" + b" " * (MB - 4), 9)
    streams = [
        b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n" % len(one) + one + b"\nendstream"
        for _ in range(SIZE // (len(one) + 100))
    ]
    return _catalog_and(streams)


def adversarial_files() -> list[tuple[str, bytes]]:
    n = SIZE
    many_keys = b"<<" + b"".join(b"/K%d 1 " % i for i in range(n // 11)) + b">>"
    # Just under the token cap: the most work that reaches qpdf and the object scan.
    long_names = [b"<< /A /%s >>" % (b"n%d" % i).ljust(200, b"x") for i in range(19_000)]
    integers_and_string = b"[" + b"1 " * 900_000 + b"(" + b"x" * (2 * MB) + b")]"
    small_dicts = [b"[" + b"<< /A [1 2] >> " * 1_000 + b"]" for _ in range(30)] + [b"(" + b"x" * (3 * MB) + b")"]
    return [
        ("review payload: %PDF-1.4 + '<' x 4M + %%EOF", b"%PDF-1.4\n" + b"<" * n + b"%%EOF"),
        ("'<<' runs (2M)", b"%PDF-1.4\n" + b"<<" * (n // 2) + b"%%EOF"),
        ("'<< >>stream' x 350k", b"%PDF-1.4\n" + b"<< >>stream\n" * (n // 12) + b"%%EOF"),
        ("'1 0 obj' x 500k", b"%PDF-1.4\n" + b"1 0 obj\n" * (n // 8) + b"%%EOF"),
        ("'/Type /Page' x 350k", b"%PDF-1.4\n" + b"/Type /Page " * (n // 12) + b"%%EOF"),
        ("deep nesting: '[' x 4M in an object", _catalog_and([b"[" * n])),
        ("deep nesting: '<< /A' x 800k in an object", _catalog_and([b"<< /A " * (n // 6)])),
        ("one array of 2M integers", _catalog_and([b"[" + b"1 " * (n // 2) + b"]"])),
        ("one dictionary of 400k keys", _catalog_and([many_keys])),
        ("under the cap: 19,000 objects with 200-byte names", _catalog_and(long_names)),
        ("under the cap: 900k integers + a 2 MB string", _catalog_and([integers_and_string])),
        ("under the cap: 30,000 '<< /A [1 2] >>' + 3 MB string", _catalog_and(small_dicts)),
        ("object streams inflating to 1 MB each", _objstm_bomb()),
    ]


# --- measure -----------------------------------------------------------------------------------


def _checker() -> Callable[[bytes], str]:
    from flask import Flask

    from backend.config import Settings
    from backend.errors import ApiError
    from backend.workflows.materials.operations import check_material

    app = Flask("material-bench")
    app.extensions["settings"] = Settings()
    app.app_context().push()

    def decide(data: bytes) -> str:
        try:
            file_type, pages = check_material(data)
        except ApiError as refused:
            return f"{refused.status} {refused.code}"
        return f"accepted {file_type.value}, {pages} p."

    return decide


Result = tuple[str, int, float, str]  # label, size, median seconds, decision


def measure(files: list[tuple[str, bytes]], decide: Callable[[bytes], str], runs: int) -> list[Result]:
    results = []
    for label, data in files:
        outcome = decide(data)  # warm-up, and the decision shown
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            decide(data)
            times.append(time.perf_counter() - started)
        results.append((label, len(data), statistics.median(times), outcome))
    return results


def _lines(kind: str, results: list[Result]) -> list[Line]:
    return [
        Line(
            f"{kind}: {label}",
            f"{size / MB:5.2f} MB {seconds * 1000:8.1f} ms {size / MB / seconds:9.0f} MB/s",
            outcome,
            None if seconds <= TARGET_MAX_SECONDS else False,
        )
        for label, size, seconds, outcome in results
    ]


def run(argv: list[str] | None = None) -> tuple[list[Line], bool]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timed checks per file (median)")
    args = parser.parse_args(argv)
    decide = _checker()
    ordinary = measure(ordinary_files(), decide, args.runs)
    adversarial = measure(adversarial_files(), decide, args.runs)
    lines = _lines("ordinary", ordinary) + _lines("adversarial", adversarial)
    pdf_rate = min(size / seconds for label, size, seconds, _ in ordinary if "PDF" in label) / MB
    worst_label, worst_size, worst_seconds, _ = min(adversarial, key=lambda r: r[1] / r[2])
    worst_rate = worst_size / worst_seconds / MB
    ratio_ok = worst_rate >= TARGET_RATIO * pdf_rate
    lines.append(
        Line(
            f"slowest adversarial vs slowest ordinary PDF ({worst_label})",
            f"{worst_rate:.0f} vs {pdf_rate:.0f} MB/s (x{worst_rate / pdf_rate:.2f})",
            f">= x{TARGET_RATIO}",
            ratio_ok,
        )
    )
    return lines, all(line.ok is not False for line in lines)


def main(argv: list[str] | None = None) -> int:
    lines, ok = run(argv)
    for line in lines:
        print(line.text())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
