"""PAdES signature: poppler's pdfsig and pyHanko agree on intact, changed and untrusted files."""

from __future__ import annotations

import io
import re

import pytest
from pyhanko.pdf_utils.generic import NameObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from report_helpers import run_tool

from reports import signing

VALID_LINE = "Signature Validation: Signature is Valid."


def _pdfsig(tmp_path, data: bytes) -> str:
    path = tmp_path / "signed.pdf"
    path.write_bytes(data)
    # pdfsig exits non-zero for an invalid signature; its report is what we check.
    result = run_tool("pdfsig", str(path), check=False)
    return result.stdout + result.stderr


def _byte_range(data: bytes) -> list[int]:
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    return [int(x) for x in match.groups()]


def _first_page_stream_offset(data: bytes) -> int:
    """Offset of a byte inside the first page's content stream."""
    reader = PdfFileReader(io.BytesIO(data))
    contents = reader.root["/Pages"]["/Kids"][0].get_object().raw_get("/Contents")
    match = re.search(rb"\n%d 0 obj\b.*?stream\r?\n" % contents.idnum, data, re.S)
    return match.end() + 20


def test_signed_report_validates_with_pdfsig_and_pyhanko(issued_reports, cert_files, tmp_path):
    signed = issued_reports["enterprise"].signed
    report = _pdfsig(tmp_path, signed)
    assert VALID_LINE in report
    assert "PlatformSignature" in report
    assert "ETSI.CAdES.detached" in report
    assert "Total document signed" in report
    check = signing.validate_pdf_signature(signed, [cert_files[1]])
    assert check.intact
    assert check.valid
    assert check.trusted
    assert check.reason == "ok"
    assert check.signer == signing.DEV_COMMON_NAME


def test_one_flipped_byte_in_the_page_content_fails_both(issued_reports, cert_files, tmp_path):
    signed = issued_reports["enterprise"].signed
    offset = _first_page_stream_offset(signed)
    start, length, second, _ = _byte_range(signed)
    assert start <= offset < start + length < second, "the byte must be in the signed range, not the signature"
    tampered = bytearray(signed)
    tampered[offset] ^= 0x01
    tampered = bytes(tampered)
    assert len(tampered) == len(signed)

    report = _pdfsig(tmp_path, tampered)
    assert VALID_LINE not in report
    assert "Digest Mismatch" in report

    check = signing.validate_pdf_signature(tampered, [cert_files[1]])
    assert not check.intact
    assert not check.valid
    assert check.reason == "changed"


def test_untrusted_certificate_is_told_apart_from_a_changed_file(issued_reports, tmp_path):
    _other_key, other_cert = signing.generate_self_signed("别人的证书", tmp_path / "other")
    check = signing.validate_pdf_signature(issued_reports["personal"].signed, [other_cert])
    assert check.intact
    assert not check.valid
    assert not check.trusted
    assert check.reason == "untrusted"
    assert "不是本平台的可信证书" in check.message


def test_content_appended_after_signing_is_reported(issued_reports, cert_files):
    signed = issued_reports["special"].signed
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root["/PageLayout"] = NameObject("/SinglePage")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    check = signing.validate_pdf_signature(out.getvalue(), [cert_files[1]])
    assert not check.valid
    assert check.reason == "not_whole_file"


def test_unsigned_and_unreadable_files(issued_reports, cert_files):
    assert signing.validate_pdf_signature(issued_reports["enterprise"].pdf, [cert_files[1]]).reason == "no_signature"
    for junk in (b"", b"not a pdf", b"%PDF-1.4\n%%EOF", issued_reports["enterprise"].signed[:5000]):
        check = signing.validate_pdf_signature(junk, [cert_files[1]])
        assert not check.valid
        assert check.reason in {"unreadable", "no_signature", "changed"}


def test_self_signed_generation_and_signer_loading(tmp_path):
    key_path, cert_path = signing.generate_self_signed(directory=tmp_path)
    assert key_path.stat().st_mode & 0o077 == 0
    assert b"BEGIN CERTIFICATE" in cert_path.read_bytes()
    first = signing.cached_signer(key_path, cert_path)
    assert signing.cached_signer(key_path, cert_path) is first
    assert signing.load_signer(key_path, cert_path) is not first
    with pytest.raises(signing.SigningError):
        signing.load_signer(tmp_path / "missing.pem", cert_path)


def test_signing_garbage_raises_signing_error(signer):
    with pytest.raises(signing.SigningError):
        signing.sign_pdf(b"this is not a pdf", signer)


def test_signing_and_validation_work_inside_a_running_event_loop(issued_reports, signer, cert_files):
    """pyHanko runs asyncio.run() inside; called from a thread with a running loop (an async
    server, a browser driver) it must still sign and validate, not report the file as changed."""
    import asyncio

    unsigned = issued_reports["enterprise"].pdf

    async def inside_loop():
        signed = signing.sign_pdf(unsigned, signer)
        return signed, signing.validate_pdf_signature(signed, [cert_files[1]])

    signed, check = asyncio.run(inside_loop())
    assert signed.startswith(b"%PDF")
    assert check.reason == "ok"
    assert check.intact
