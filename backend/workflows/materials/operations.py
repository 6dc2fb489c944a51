"""Uploaded materials: checked by content, stored under random keys, served to reviewers only.

The type is decided by the file's first bytes (magic numbers), never by its name or the declared
content type: an .exe renamed to .pdf starts with ``MZ`` and is refused. The content checks
(checks.py) run in time linear in the file's size: PDFs are parsed by qpdf under limits (page
count, encryption, active content, compressed object streams included), images have their
headers decoded and their declared size capped, and HTML in the first KB is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ...actors import Actor
from ...audit.operations import record_event
from ...errors import ApiError, Forbidden, NotFound
from ...extensions import db
from ...storage import StorageError, get_storage, put_for_transaction
from ...types import utcnow
from .. import messages as msg
from ..cases import actor_key, case_of_material, is_auditor, is_department_actor, is_platform_staff, workflow_setting
from . import checks
from .models import Material, MaterialPurpose, MaterialType

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def detect_type(data: bytes) -> MaterialType | None:
    if data.startswith(PDF_MAGIC):
        return MaterialType.PDF
    if data.startswith(JPEG_MAGIC):
        return MaterialType.JPEG
    if data.startswith(PNG_MAGIC) and data[12:16] == b"IHDR":
        return MaterialType.PNG
    return None


def count_pdf_pages(data: bytes, max_pages: int | None = None) -> int:
    """Pages of a PDF (object streams included), or ApiError: truncated, unreadable, encrypted,
    active content, over the page limit (MATERIAL_MAX_PDF_PAGES unless given). See checks.py."""
    limit = int(workflow_setting("MATERIAL_MAX_PDF_PAGES")) if max_pages is None else max_pages
    return checks.check_pdf(data, limit)


_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")


def check_file_name(name: str | None) -> None:
    """Refuse (400 ``bad_file_name``) a file name that is or holds a path: separators, ``..``,
    a drive letter, or control characters. Files are stored under random keys whatever their
    name, so such a name could do no harm here; it is refused so the sender learns it was wrong
    rather than finding the file renamed. ``upload_material`` calls it; a channel may call it
    first to refuse before reading the body."""
    if not name:
        return
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ApiError(msg.MATERIAL_NAME_CONTROL, code="bad_file_name", details={"problem": "control_character"})
    # ".." anywhere, not only between separators: the multipart parser reads a backslash as an
    # escape, so a name sent as "..\\..\\x.pdf" with bare backslashes arrives as "....x.pdf".
    if "/" in name or "\\" in name or ".." in name or name.strip() == "." or _DRIVE_PREFIX.match(name):
        raise ApiError(msg.MATERIAL_NAME_PATH, code="bad_file_name", details={"problem": "path"})


def sanitise_filename(name: str | None, file_type: MaterialType) -> str:
    """A display name safe anywhere: no directories, no control characters, the real extension."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C"))
    base = base.strip().lstrip(".").strip()
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = re.sub(r'[<>:"|?*]', "_", stem).strip()[:80] or "材料"
    return f"{stem}.{file_type.extension}"


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"


def check_material(data: bytes) -> tuple[MaterialType, int]:
    """The detected type and page count, or ApiError with the reason in Chinese."""
    if not data:
        raise ApiError(msg.MATERIAL_EMPTY, code="material_empty")
    limit = int(workflow_setting("MATERIAL_MAX_BYTES"))
    if len(data) > limit:
        raise ApiError(
            msg.MATERIAL_TOO_LARGE.format(size=_size_text(len(data)), limit=_size_text(limit)),
            code="material_too_large",
            details={"size": len(data), "limit": limit},
        )
    # Before the type: HTML ahead of a "%PDF-" is refused as the polyglot it is, not as a bad type.
    checks.check_no_html(data)
    file_type = detect_type(data)
    if file_type is None:
        raise ApiError(msg.MATERIAL_BAD_TYPE, code="material_type", details={"allowed": ["pdf", "jpeg", "png"]})
    if file_type is MaterialType.PDF:
        return file_type, count_pdf_pages(data)
    checks.check_image(data, file_type, int(workflow_setting("MATERIAL_MAX_IMAGE_PIXELS")))
    return file_type, 1


def upload_material(
    actor: Actor,
    data: bytes,
    filename: str | None,
    purpose: MaterialPurpose,
    *,
    now: dt.datetime | None = None,
) -> Material:
    """Check and store one file; the row is attached to a case when the case is filed. A file
    name holding a path is refused here for every channel (``check_file_name``)."""
    check_file_name(filename)
    file_type, pages = check_material(data)
    key = put_for_transaction(data, prefix=f"materials/{(now or utcnow()):%Y%m}", extension=file_type.extension)
    material = Material(
        storage_key=key,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        file_type=file_type,
        pages=pages,
        original_name=sanitise_filename(filename, file_type),
        purpose=purpose,
        uploaded_at=now or utcnow(),
        uploader_key=actor_key(actor),
        channel=actor.channel,
    )
    db.session.add(material)
    db.session.flush()
    record_event(
        actor,
        "material.upload",
        target=material,
        details={"sha256": material.sha256, "type": file_type.value, "size": len(data), "pages": pages},
    )
    return material


def check_materials(actor: Actor, material_ids: Sequence[int]) -> list[Material]:
    """The actor's own, still unattached uploads with these ids (locked), or ApiError."""
    ids = sorted(set(material_ids))
    if not ids:
        return []
    rows = db.session.scalars(sa.select(Material).where(Material.id.in_(ids)).with_for_update()).all()
    found = {m.id for m in rows}
    if missing := [i for i in ids if i not in found]:
        raise NotFound(msg.MATERIAL_NOT_FOUND.format(ids=", ".join(map(str, missing))), code="material_not_found")
    key = actor_key(actor)
    if any(m.uploader_key != key for m in rows):
        raise Forbidden(msg.MATERIAL_NOT_YOURS, code="material_not_yours")
    if used := [m.id for m in rows if m.is_attached]:
        raise ApiError(msg.MATERIAL_ALREADY_USED.format(ids=", ".join(map(str, used))), code="material_used")
    return list(rows)


def attach_materials(actor: Actor, case: Any, material_ids: Sequence[int]) -> list[Material]:
    """Attach the actor's own, still unattached uploads to ``case`` (objection or repair)."""
    rows = check_materials(actor, material_ids)
    if not rows:
        return []
    column = "objection_id" if case.CASE_TYPE == "objection" else "repair_application_id"
    limit = int(workflow_setting("MATERIAL_MAX_PER_CASE"))
    existing = db.session.scalar(
        sa.select(sa.func.count()).select_from(Material).where(getattr(Material, column) == case.id)
    )
    if existing + len(rows) > limit:
        raise ApiError(msg.MATERIAL_TOO_MANY.format(limit=limit), code="material_too_many")
    for material in rows:
        setattr(material, column, case.id)
    db.session.flush()
    return rows


def can_read_material(actor: Actor, material: Material) -> bool:
    """Reviewers only: platform staff and auditors, and the deciding department of its case."""
    if is_platform_staff(actor) or is_auditor(actor):
        return material.is_attached
    case = case_of_material(material)
    return case is not None and is_department_actor(actor, case.department_id)


def stored_bytes(material: Material, missing_message: str) -> bytes:
    """The stored file of ``material``, only if it is still the one uploaded (its SHA-256): never
    show a reviewer another file. A missing file is a 404, a changed one a 409."""
    try:
        data = get_storage().get(material.storage_key)
    except StorageError as exc:
        raise NotFound(missing_message, code="material_file_missing") from exc
    if hashlib.sha256(data).hexdigest() != material.sha256:
        raise ApiError(missing_message, code="material_file_changed", status=409)
    return data


def read_material(actor: Actor, material: Material) -> bytes:
    """The file's bytes for a reviewer; every view is audited."""
    if not can_read_material(actor, material):
        raise Forbidden(msg.NOT_ALLOWED.format(action=msg.ACTIONS["view"]))
    case = case_of_material(material)
    data = stored_bytes(material, msg.MATERIAL_FILE_MISSING)
    record_event(
        actor,
        "material.view",
        target=material,
        subject_id=case.subject_id if case else None,
        details={"case": case.number if case else None, "sha256": material.sha256},
    )
    return data
