"""Helpers for the report registry tests (a plain module: conftest.py is not importable)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit


def run_tool(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=120)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return squash(run_tool("pdftotext", "-layout", str(path), "-").stdout)


def read_qr(pdf: bytes, tmp_path: Path) -> str:
    """Rasterise every page at 150 dpi and decode the QR code(s) with zbarimg."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "qr.pdf"
    path.write_bytes(pdf)
    run_tool("pdftoppm", "-r", "150", "-png", str(path), str(folder / "page"))
    found = []
    for image in sorted(folder.glob("page*.png")):
        result = run_tool("zbarimg", "-q", "--raw", str(image), check=False)
        found += [line for line in result.stdout.splitlines() if line.strip()]
    assert len(found) == 1, found
    return found[0]


def path_of(url: str) -> str:
    return urlsplit(url).path


def flip_byte(pdf: bytes, marker: bytes = b"/Producer") -> bytes:
    """Change one byte inside the signed range (a character of an ordinary PDF object)."""
    index = pdf.find(marker)
    assert index > 0
    index += len(marker) + 3
    changed = bytearray(pdf)
    changed[index] = ord("X") if changed[index] != ord("X") else ord("Y")
    return bytes(changed)
