"""Uploaded materials: content checks, limits, storage, reviewers-only access."""

from __future__ import annotations

import hashlib
import io

import pikepdf
import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.errors import ApiError, Forbidden, NotFound
from backend.extensions import db
from backend.workflows.materials.models import Material, MaterialPurpose, MaterialType
from backend.workflows.materials.operations import (
    count_pdf_pages,
    read_material,
    sanitise_filename,
    upload_material,
)
from backend.workflows.objections.models import ObjectionGround
from backend.workflows.objections.operations import file_objection
from tests.workflows.conftest import JPEG, PNG, make_pdf


def _encrypted_pdf(user_password: str) -> bytes:
    """A real encrypted PDF (AES-256): with an empty user password it opens without asking."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="owner-secret", user=user_password))
    return out.getvalue()


def _upload(world, data, name="材料.pdf"):
    return upload_material(world.citizen, data, name, MaterialPurpose.EVIDENCE)


def test_an_exe_renamed_to_pdf_is_refused(world):
    exe = (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
        + b"\x00" * 200
        + b"This program cannot be run in DOS mode"
    )
    with pytest.raises(ApiError) as refused:
        _upload(world, exe, "处罚决定书.pdf")
    assert refused.value.code == "material_type"
    assert "文件内容不是 PDF、JPEG 或 PNG" in refused.value.message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Material)) == 0


@pytest.mark.parametrize(
    ("data", "code", "text"),
    [
        (b"", "material_empty", "上传的文件为空"),
        (b"%PDF-1.7\n1 0 obj << /Type /Page >> endobj\n", "material_broken", "不完整或已损坏"),
        (_encrypted_pdf(user_password=""), "material_encrypted", "已加密"),
        (_encrypted_pdf(user_password="1234"), "material_encrypted", "已加密"),
        (b"GIF89a" + b"\x00" * 50, "material_type", "PDF、JPEG 或 PNG"),
        (b"<html><script>alert(1)</script></html>", "material_polyglot", "网页代码（<html）"),
    ],
)
def test_refusals_say_why(world, data, code, text):
    with pytest.raises(ApiError) as refused:
        _upload(world, data)
    assert refused.value.code == code
    assert text in refused.value.message


def test_size_and_page_limits_come_from_config(world, settings_extra):
    settings_extra(MATERIAL_MAX_BYTES=2048, MATERIAL_MAX_PDF_PAGES=3)
    with pytest.raises(ApiError) as too_big:
        _upload(world, PNG + b"\x00" * 3000, "大图.png")
    assert too_big.value.code == "material_too_large"
    assert "超过上限 2 KB" in too_big.value.message
    with pytest.raises(ApiError) as too_long:
        _upload(world, make_pdf(4))
    assert too_long.value.message == "PDF 文件共 4 页，超过上限 3 页，请拆分后上传"
    assert _upload(world, make_pdf(3)).pages == 3


def test_pdf_pages_are_counted_inside_object_streams():
    assert count_pdf_pages(make_pdf(1), 50) == 1
    assert count_pdf_pages(make_pdf(7), 50) == 7
    pdf = pikepdf.new()
    for _ in range(5):
        pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    compressed = out.getvalue()
    assert b"/Type /Page" not in compressed and b"/ObjStm" in compressed
    assert count_pdf_pages(compressed, 50) == 5


def test_accepted_files_are_stored_under_random_names_with_their_hash(world, storage):
    pdf = make_pdf(2)
    material = _upload(world, pdf, "passwd.exe")
    assert material.file_type is MaterialType.PDF
    assert material.pages == 2
    assert material.sha256 == hashlib.sha256(pdf).hexdigest()
    assert material.original_name == "passwd.pdf"
    assert "passwd" not in material.storage_key
    assert material.storage_key.endswith(".pdf")
    assert storage.get(material.storage_key) == pdf
    assert _upload(world, PNG, "照片.PNG").file_type is MaterialType.PNG
    jpeg = _upload(world, JPEG, "收据.jpeg")
    assert (jpeg.file_type, jpeg.original_name) == (MaterialType.JPEG, "收据.jpg")
    assert len({material.storage_key, jpeg.storage_key}) == 2


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../../x.pdf", "x.pdf"),
        ("..\\..\\boot.ini", "boot.pdf"),
        ("...hidden", "hidden.pdf"),
        ("", "材料.pdf"),
        ("a\u202egnp.pdf", "agnp.pdf"),  # right-to-left override stripped
        ("报告<1>?.pdf", "报告_1__.pdf"),
    ],
)
def test_file_names_are_sanitised(name, expected):
    assert sanitise_filename(name, MaterialType.PDF) == expected


@pytest.mark.parametrize("name", ["../../etc/passwd\x00.exe", "C:\\Users\\me\\收据.jpeg", "a/b.pdf", "..", "x\x07.pdf"])
def test_the_operation_refuses_a_name_holding_a_path_and_stores_nothing(world, storage, tmp_path, name):
    folder = tmp_path / "storage"
    before = set(folder.rglob("*"))
    with pytest.raises(ApiError) as info:
        _upload(world, make_pdf(1), name)
    assert info.value.code == "bad_file_name" and info.value.status == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Material)) == 0
    assert set(folder.rglob("*")) == before


def test_materials_are_served_to_reviewers_only_and_every_view_is_audited(world):
    record = world.record()
    material = _upload(world, make_pdf(1))
    objection = file_objection(
        world.citizen, record, world.applicant, ground=ObjectionGround.INACCURATE, statement="有误",
        commitment=world.objection_commitment(record), material_ids=[material.id],
    )  # fmt: skip
    assert read_material(world.actor(world.reviewer), material) == make_pdf(1)
    assert read_material(world.actor(world.admin), material)
    for outsider in (world.actor(world.other_reviewer), world.citizen, world.stranger):
        with pytest.raises(Forbidden):
            read_material(outsider, material)
    views = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "material.view")).all()
    assert [v.actor_label for v in views] == ["reviewer_a", "admin"]
    assert views[0].details["case"] == objection.number


def test_materials_cannot_be_reused_or_taken_from_someone_else(world):
    record, other = world.record(), world.record()
    mine = _upload(world, make_pdf(1))
    theirs = upload_material(world.stranger, make_pdf(1), "x.pdf", MaterialPurpose.EVIDENCE)

    def file(rec, ids):
        return file_objection(
            world.citizen, rec, world.applicant, ground=ObjectionGround.OTHER, statement="理由",
            commitment=world.objection_commitment(rec), material_ids=ids,
        )  # fmt: skip

    with pytest.raises(Forbidden, match="本人上传"):
        file(record, [theirs.id])
    with pytest.raises(NotFound, match="99999"):
        file(record, [99999])
    file(record, [mine.id])
    with pytest.raises(ApiError, match="已用于其他申请"):
        file(other, [mine.id])


def test_a_file_changed_in_storage_is_not_served(world, storage):
    record = world.record()
    material = _upload(world, make_pdf(1))
    file_objection(
        world.citizen, record, world.applicant, ground=ObjectionGround.INACCURATE, statement="有误",
        commitment=world.objection_commitment(record), material_ids=[material.id],
    )  # fmt: skip
    (storage.root / material.storage_key).write_bytes(make_pdf(2))
    with pytest.raises(ApiError) as refused:
        read_material(world.actor(world.reviewer), material)
    assert refused.value.code == "material_file_changed"
