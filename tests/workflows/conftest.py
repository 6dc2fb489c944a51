"""Fixtures for the workflow tests: departments, a record, staff actors, an applicant, storage."""

from __future__ import annotations

import datetime as dt
import io
import zlib

import pytest
from PIL import Image

import backend.workflows.models  # noqa: F401  (the workflow tables in the metadata, for cleaning)
from backend.actors import Actor
from backend.extensions import db
from backend.records.models import CreditRecord
from backend.staff.models import StaffRole, StaffUser
from backend.storage import LocalStorage
from backend.workflows.cases import Applicant, ApplicantKind
from backend.workflows.commitments.models import CommitmentKind
from backend.workflows.commitments.operations import sign_commitment
from backend.workflows.materials.models import MaterialPurpose
from backend.workflows.materials.operations import upload_material
from tests.factories import make_department, record_input, write_records


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    """A naive-UTC timestamp for ``hour`` o'clock Beijing time on that day."""
    return dt.datetime(year, month, day, hour) - dt.timedelta(hours=8)


def make_pdf(pages: int = 1, *, object_stream: bool = False) -> bytes:
    """A small well-formed PDF; with ``object_stream`` its page objects are compressed (PDF 1.5)."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    body = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        f"2 0 obj\n<< /Type /Pages /Kids [{kids}] /Count {pages} >>\nendobj\n".encode(),
    ]
    page_objs = [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>" for _ in range(pages)]
    if object_stream:
        offsets, data = [], b""
        for i, obj in enumerate(page_objs):
            offsets.append(f"{3 + i} {len(data)}")
            data += obj + b"\n"
        header = " ".join(offsets).encode() + b"\n"
        raw = zlib.compress(header + data)
        body.append(
            f"{3 + pages} 0 obj\n<< /Type /ObjStm /N {pages} /First {len(header)} /Filter /FlateDecode "
            f"/Length {len(raw)} >>\nstream\n".encode()
            + raw
            + b"\nendstream\nendobj\n"
        )
    else:
        body += [f"{3 + i} 0 obj\n".encode() + obj + b"\nendobj\n" for i, obj in enumerate(page_objs)]
    return head + b"".join(body) + b"trailer\n<< /Root 1 0 R >>\nstartxref\n0\n%%EOF\n"


def make_image(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    """A small real image: the materials check decodes headers and verifies the structure."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


PNG = make_image("PNG")
JPEG = make_image("JPEG")


@pytest.fixture(autouse=True)
def storage(app, tmp_path, monkeypatch):
    store = LocalStorage(tmp_path / "storage")
    monkeypatch.setitem(app.extensions, "storage", store)
    return store


@pytest.fixture
def settings_extra(app, monkeypatch):
    """Override a workflow setting for one test: settings_extra(NAME=value)."""

    def override(**values):
        for key, value in values.items():
            assert hasattr(app.extensions["settings"], key), key
            monkeypatch.setattr(app.extensions["settings"], key, value)

    return override


class World:
    """A department with a record, another department, staff of each kind and a citizen."""

    def __init__(self):
        self.dept = make_department()
        self.other_dept = make_department(code="SWJ", name="国家税务总局金昌市税务局", n=2)
        self.admin = self._staff("admin", StaffRole.PLATFORM_ADMIN, None)
        self.reviewer = self._staff("reviewer_a", StaffRole.DEPT_REVIEWER, self.dept.id)
        self.reviewer2 = self._staff("reviewer_a2", StaffRole.DEPT_REVIEWER, self.dept.id)
        self.other_reviewer = self._staff("reviewer_b", StaffRole.DEPT_REVIEWER, self.other_dept.id)
        self.auditor = self._staff("auditor", StaffRole.AUDITOR, None)
        self.citizen = Actor("citizen", "42", "citizen-42", "mp")
        self.stranger = Actor("citizen", "43", "citizen-43", "mp")
        self.applicant = Applicant(ApplicantKind.LEGAL_REPRESENTATIVE, "王建国", "11010519491231002X")
        db.session.flush()

    def _staff(self, username, role, department_id):
        user = StaffUser(
            username=username, display_name=username, password_hash="x", role=role, department_id=department_id
        )
        db.session.add(user)
        db.session.flush()
        return user

    def actor(self, user) -> Actor:
        return Actor.staff(user)

    def record(self, **overrides) -> CreditRecord:
        item = record_input(self.dept, **overrides)
        write_records(item)
        db.session.flush()
        return db.session.scalars(
            db.select(CreditRecord).where(CreditRecord.decision_number == item.decision_number)
        ).one()

    def commitment(self, kind, record, actor=None, applicant=None, now=None):
        return sign_commitment(actor or self.citizen, kind, record, applicant or self.applicant, now=now)

    def material(self, purpose=MaterialPurpose.EVIDENCE, actor=None, data=None, name="证明.pdf"):
        return upload_material(actor or self.citizen, data or make_pdf(2), name, purpose)

    def objection_commitment(self, record, **kw):
        return self.commitment(CommitmentKind.OBJECTION, record, **kw)

    def repair_commitment(self, record, **kw):
        return self.commitment(CommitmentKind.REPAIR, record, **kw)


@pytest.fixture
def world(app):
    return World()
