"""Helpers shared by the reports tests (a plain module: conftest.py is not importable)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, replace

from reports import render, signing, tokens
from reports.content import ReportContent

TOOLS = ("pdftotext", "pdffonts", "pdfinfo", "pdfsig", "pdftoppm", "zbarimg")
BASE_URL = "https://credit.jinchang.gov.cn"
KID = "2026a"


def run_tool(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=120)


def squash(text: str) -> str:
    """Text without whitespace: pdftotext breaks wrapped cells and spaces Latin runs its own way."""
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class Issued:
    content: ReportContent
    token: str
    pdf: bytes  # unsigned
    signed: bytes


def issue(content: ReportContent, key, signer) -> Issued:
    """What the backend does: hash, sign a token, put its URL in the report, render, sign."""
    token = tokens.sign_token(
        key,
        KID,
        number=content.number,
        kind=content.kind,
        issued_on=content.issued_at.date(),
        content_hash=content.content_hash,
    )
    content = replace(content, verification_url=tokens.token_url(BASE_URL, token))
    pdf = render.render_pdf(content)
    return Issued(content, token, pdf, signing.sign_pdf(pdf, signer))
