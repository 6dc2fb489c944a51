"""Helpers for the report registry tests (a plain module: conftest.py is not importable)."""

from __future__ import annotations

import io
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


class StatementCounter:
    """Counts the SQL statements run while it is active: those SQLAlchemy executes (an event on
    every Engine, primary and its autocommit twin alike) and those ``FastSelect`` sends straight
    to the driver's cursor, which bypass SQLAlchemy's events."""

    def __init__(self, monkeypatch):
        import sqlalchemy as sa

        from backend.fast_select import FastSelect

        self.statements: list[str] = []
        self._engine_class = sa.engine.Engine
        original_rows = FastSelect.rows

        def counted_rows(select, connection, params):
            self.statements.append(str(select.statement))
            return original_rows(select, connection, params)

        monkeypatch.setattr(FastSelect, "rows", counted_rows)

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        from sqlalchemy import event

        event.listen(self._engine_class, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event

        event.remove(self._engine_class, "before_cursor_execute", self._on_execute)

    @property
    def count(self) -> int:
        return len(self.statements)


def file_upload(data: bytes, filename: str = "upload.pdf") -> dict:
    """``client.post`` arguments for a multipart ``file`` upload encoded in memory: the test
    client spools a body over 500 KB to a temporary file it never closes (a ResourceWarning)."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename)})
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}
