"""Issue 14, items 1 and 11: the material checker decides in time linear in the upload's size
(the reviewers' payload, adversarial byte patterns), refuses active content, polyglots and
implausible images each with its reason, and uploads are rate-limited per citizen.

Speed is shown by `python -m bench.material_bench`, not asserted here."""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from backend.app import create_app
from backend.errors import ApiError
from backend.extensions import db, limiter
from backend.workflows.materials.models import Material, MaterialType
from backend.workflows.materials.operations import check_material
from tests.conftest import TEST_PII_KEY
from tests.security.helpers import CITIZEN_A, CITIZEN_B
from tests.wechat.helpers import API, make_pdf, verified_person

REVIEW_PAYLOAD = b"%PDF-1.4\n" + b"<" * 300_000 + b"%%EOF"


def _upload(client, person, data: bytes, name: str = "材料.pdf"):
    return client.post(
        f"{API}/materials",
        data={"purpose": "evidence", "file": (io.BytesIO(data), name)},
        headers=person.headers,
        content_type="multipart/form-data",
    )


def _refusal(call) -> ApiError:
    with pytest.raises(ApiError) as refused:
        call()
    assert refused.value.status in (400, 422), refused.value.status
    return refused.value


def _stored() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Material))


# --- item 1: the reviewers' payload through the mini-program route ----------------------------


def test_the_reviewers_payload_is_refused_as_unreadable_through_the_route(client, fake):
    citizen = verified_person(client, fake, *CITIZEN_A)
    response = _upload(client, citizen, REVIEW_PAYLOAD, "攻击.pdf")
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "material_broken"
    assert error["message"] == "PDF 文件不完整或已损坏（无法读取文件结构），请重新导出后上传"
    assert error["details"] == {"problem": "unreadable"}
    assert _stored() == 0
    # The citizen can go on: a real file is accepted right after.
    assert _upload(client, citizen, make_pdf(2)).status_code == 201


# --- item 1: any byte pattern gets a decision, never another exception -------------------------

_TOKENS = [
    b"<",
    b"<<",
    b">>",
    b">",
    b"(",
    b")",
    b"\\",
    b"[",
    b"]",
    b"{",
    b"}",
    b"/",
    b"%",
    b"#",
    b"stream\n",
    b"\nendstream",
    b"obj",
    b"endobj",
    b" 0 obj\n",
    b" 0 R",
    b"/Type /Page",
    b"/Type /Pages",
    b"/Count 3",
    b"/Kids [",
    b"/ObjStm",
    b"/FlateDecode",
    b"/Length 10",
    b"/JavaScript",
    b"/JS",
    b"/Encrypt",
    b"trailer",
    b"xref\n",
    b"startxref\n",
    b"%%EOF",
    b"%PDF-1.7",
    b"0",
    b"1",
    b"9999999999",
    b" ",
    b"\n",
    b"\r",
    b"\t",
    b"\x00",
    b"\xff",
]
_RUN = st.tuples(st.sampled_from(_TOKENS), st.integers(min_value=1, max_value=20_000)).map(lambda t: t[0] * t[1])
_PIECE = st.one_of(st.sampled_from(_TOKENS), _RUN, st.binary(max_size=64))
_CODES = {
    "material_broken",
    "material_encrypted",
    "material_too_many_pages",
    "material_too_complex",
    "material_active_content",
    "material_polyglot",
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(_PIECE, max_size=40), ending=st.sampled_from([b"", b"%%EOF", b"\n%%EOF\n"]))
def test_any_adversarial_byte_pattern_gets_an_accept_or_refuse_decision(app, pieces, ending):
    data = b"%PDF-1.7\n" + b"".join(pieces) + ending
    try:
        decision = check_material(data)
    except ApiError as refused:  # the checker's own error type, and nothing else, may escape
        decision = (refused.code, refused.status, bool(refused.message))
    if decision[0] is MaterialType.PDF:
        assert 1 <= decision[1] <= 50
    else:
        assert decision[0] in _CODES and decision[1:] == (422, True), decision


# --- item 11: active content, decided from the parsed objects -----------------------------------


def _pdf(build, *, object_streams: bool = True) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    build(pdf)
    out = io.BytesIO()
    mode = pikepdf.ObjectStreamMode.generate if object_streams else pikepdf.ObjectStreamMode.disable
    pdf.save(out, object_stream_mode=mode, compress_streams=True)
    return out.getvalue()


def _action(pdf, kind: str, **entries):
    return pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Action, S=pikepdf.Name(kind), **entries))


def _javascript_in_names(pdf):
    js = _action(pdf, "/JavaScript", JS=pikepdf.String("app.alert(1)"))
    pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("x"), js])))


def _open_action_javascript(pdf):
    pdf.Root.OpenAction = _action(pdf, "/JavaScript", JS=pikepdf.String("this.exportDataObject()"))


def _page_additional_action(pdf):
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=_action(pdf, "/GoTo", D=pikepdf.Array([pdf.pages[0].obj])))


def _launch(pdf):
    link = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.Link,
        Rect=[0, 0, 100, 100],
        A=_action(pdf, "/Launch", F=pikepdf.String("cmd.exe")),
    )
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))


def _embedded_file(pdf):
    pdf.attachments["清单.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00", mime_type="application/octet-stream")


def _rich_media(pdf):
    annotation = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.RichMedia,
        Rect=[0, 0, 100, 100],
    )
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(annotation)]))


def _xfa(pdf):
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=pdf.make_stream(b"<xdp:xdp/>"))


@pytest.mark.parametrize(
    ("build", "feature", "name", "text"),
    [
        (_javascript_in_names, "javascript", "/JavaScript", "JavaScript 脚本"),
        (_open_action_javascript, "javascript", "/JavaScript", "JavaScript 脚本"),
        (_page_additional_action, "auto_action", "/AA", "自动执行的动作（/AA）"),
        (_launch, "launch", "/Launch", "启动外部程序"),
        (_embedded_file, "embedded_file", "/EmbeddedFiles", "内嵌了附件"),
        (_rich_media, "rich_media", "/RichMedia", "多媒体"),
        (_xfa, "xfa", "/XFA", "XFA 动态表单"),
    ],
    ids=["names-javascript", "openaction-javascript", "page-aa", "launch", "embedded-file", "richmedia", "xfa"],
)
def test_active_content_is_refused_with_its_reason_even_inside_object_streams(build, feature, name, text):
    data = _pdf(build)
    # Compressed into an object stream: no byte scan of the file sees the name.
    assert name.encode() not in data
    refused = _refusal(lambda: check_material(data))
    assert refused.code == "material_active_content" and refused.status == 422
    assert refused.details == {"feature": feature, "name": name}
    assert text in refused.message and "出于安全原因不予接收" in refused.message


def test_a_hex_escaped_name_is_read_as_the_name_it_spells():
    action = b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"
    data = make_pdf(1).replace(b"<< /Type /Catalog", b"<< /OpenAction " + action + b" /Type /Catalog")
    assert b"/JavaScript" not in data and b"/JS" not in data
    refused = _refusal(lambda: check_material(data))
    assert refused.details == {"feature": "javascript", "name": "/JavaScript"}


def test_harmless_lookalikes_are_accepted(app):
    def open_at_first_page(pdf):
        pdf.Root.OpenAction = pikepdf.Array([pdf.pages[0].obj, pikepdf.Name.Fit])

    def goto_action(pdf):
        pdf.Root.OpenAction = _action(pdf, "/GoTo", D=pikepdf.Array([pdf.pages[0].obj, pikepdf.Name.Fit]))

    def mentions_javascript(pdf):
        pdf.docinfo["/Subject"] = "/JavaScript /JS /Launch /OpenAction"

    for build in (open_at_first_page, goto_action, mentions_javascript):
        assert check_material(_pdf(build)) == (MaterialType.PDF, 1)
        assert check_material(_pdf(build, object_streams=False)) == (MaterialType.PDF, 1)


# --- item 11: polyglots -----------------------------------------------------------------------


def test_html_pdf_polyglots_are_refused_with_the_tag_found(app):
    before = b"<html><script>alert(document.cookie)</script>\n" + make_pdf(1)
    refused = _refusal(lambda: check_material(before))
    assert refused.code == "material_polyglot" and refused.details == {"tag": "<html"}
    assert "网页代码（<html）" in refused.message

    inside = make_pdf(1).replace(b"%PDF-1.7\n", b"%PDF-1.7\n%<script src=//evil.example/x.js></script>\n")
    refused = _refusal(lambda: check_material(inside))
    assert refused.code == "material_polyglot" and refused.details == {"tag": "<script"}

    # The same tag after the first KB is not a polyglot's trick: page content may quote HTML.
    late = make_pdf(1).replace(b"trailer", b"%" + b" " * 1100 + b"<script>\ntrailer")
    assert check_material(late) == (MaterialType.PDF, 1)


# --- item 11: images ----------------------------------------------------------------------------


def _image(fmt: str, size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_real_images_are_accepted(app):
    assert check_material(_image("JPEG")) == (MaterialType.JPEG, 1)
    assert check_material(_image("PNG")) == (MaterialType.PNG, 1)


def test_a_35_byte_jpeg_is_refused(app):
    fake = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 22
    assert len(fake) == 35
    refused = _refusal(lambda: check_material(fake))
    assert refused.code == "material_broken" and refused.details == {"problem": "header"}
    assert refused.message == "JPEG 图片无法识别或已损坏（文件头无法解析），请重新拍摄或导出后上传"


def test_a_jpeg_cut_short_or_a_png_with_a_bad_checksum_is_refused(app):
    jpeg = _image("JPEG")
    refused = _refusal(lambda: check_material(jpeg[: jpeg.rindex(b"\xff\xd9")]))
    assert refused.details == {"problem": "no_end"}
    png = bytearray(_image("PNG"))
    png[png.index(b"IDAT") + 6] ^= 0xFF
    refused = _refusal(lambda: check_material(bytes(png)))
    assert refused.code == "material_broken" and refused.details == {"problem": "checksum"}


def test_a_png_declaring_100000_by_100000_pixels_is_refused_before_decoding(client, fake, storage):
    bomb = _png_declaring(100_000, 100_000)
    assert len(bomb) < 100
    citizen = verified_person(client, fake, *CITIZEN_A)
    response = _upload(client, citizen, bomb, "照片.png")
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "material_too_many_pixels"
    assert error["message"] == "图片尺寸为 100000 × 100000 像素，超过上限 5000 万像素，请缩小后重新上传"
    assert error["details"] == {"width": 100_000, "height": 100_000, "limit": 50_000_000}
    assert _stored() == 0


def test_the_pixel_limit_is_a_setting(app, monkeypatch):
    monkeypatch.setattr(app.extensions["settings"], "MATERIAL_MAX_IMAGE_PIXELS", 1000)
    refused = _refusal(lambda: check_material(_image("JPEG", (40, 30))))
    assert refused.code == "material_too_many_pixels" and refused.details["limit"] == 1000
    assert check_material(_image("JPEG", (30, 30))) == (MaterialType.JPEG, 1)


# --- item 1: uploads are rate-limited per citizen -----------------------------------------------


@pytest.fixture
def limited_client(app, tmp_path):
    """A second app with rate limiting on (the conftest restores the shared limiter after)."""
    limited = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
            "PII_HASH_KEY": "test-hash-key",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_MATERIAL_UPLOADS": "2/minute",
            "STORAGE_DIR": str(tmp_path / "limited-storage"),
        }
    )
    try:
        yield limited.test_client()
    finally:
        limiter.reset()
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_upload_after_the_limit_is_429_for_that_citizen_only(client, fake, limited_client):
    a = verified_person(client, fake, *CITIZEN_A)
    b = verified_person(client, fake, *CITIZEN_B)
    same_address = {"REMOTE_ADDR": "203.0.113.9"}  # one service hall's Wi-Fi for both
    for _ in range(2):
        response = limited_client.post(
            f"{API}/materials",
            data={"purpose": "evidence", "file": (io.BytesIO(make_pdf(1)), "证明.pdf")},
            headers=a.headers,
            content_type="multipart/form-data",
            environ_base=same_address,
        )
        assert response.status_code == 201, response.json
    refused = limited_client.post(
        f"{API}/materials",
        data={"purpose": "evidence", "file": (io.BytesIO(REVIEW_PAYLOAD), "攻击.pdf")},
        headers=a.headers,
        content_type="multipart/form-data",
        environ_base=same_address,
    )
    assert refused.status_code == 429 and refused.json["error"]["code"] == "rate_limited"
    other = limited_client.post(
        f"{API}/materials",
        data={"purpose": "evidence", "file": (io.BytesIO(make_pdf(1)), "证明.pdf")},
        headers=b.headers,
        content_type="multipart/form-data",
        environ_base=same_address,
    )
    assert other.status_code == 201, other.json
