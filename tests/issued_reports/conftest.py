"""Fixtures for the report registry: keys and storage in a temporary folder, subjects with
records, the poppler and zbar tools (required: a missing tool fails the run)."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest

import backend.workflows.models  # noqa: F401  (workflow tables in the metadata, for cleaning)
from backend.extensions import db
from backend.issued_reports.keys import EXTENSION_KEY, ReportKeys
from backend.records.models import CreditRecord, PenaltyTier, RecordCategory
from backend.storage import LocalStorage
from backend.subjects.models import Subject
from reports import signing, sm2, tokens
from tests.factories import make_department, make_id_number, make_uscc, record_input, write_records

TOOLS = ("pdftotext", "pdffonts", "pdfsig", "pdftoppm", "zbarimg")
ENTERPRISE_NAME = "金昌市金川区宏达建材有限公司"
PERSON_NAME = "张明华"


@pytest.fixture(scope="session", autouse=True)
def _tools_installed():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"required tools missing: {missing}; install poppler-utils and zbar-tools", pytrace=False)


@pytest.fixture(scope="session")
def key_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-keys")
    token_key = folder / "t1.pem"
    if os.environ.get("TEST_CRYPTO_SUITE") == "sm":  # the 国密 suite signs with SM2 (tests/conftest.py)
        sm2.save_private_key(sm2.generate_key(), token_key)
    else:
        tokens.save_private_key(tokens.generate_key(), token_key)
    pdf_key, pdf_cert = signing.generate_self_signed(directory=folder)
    return {"token": token_key, "pdf_key": pdf_key, "pdf_cert": pdf_cert}


@pytest.fixture(scope="session")
def keys(key_files) -> ReportKeys:
    private = tokens.load_private_key(key_files["token"])
    return ReportKeys(
        kid="t1",
        private_key=private,
        public_keys=tokens.trust_keys([("t1", private)]),
        pdf_key_path=str(key_files["pdf_key"]),
        pdf_cert_path=str(key_files["pdf_cert"]),
        pdf_chain_paths=(),
        pdf_passphrase=None,
    )


@pytest.fixture(autouse=True)
def report_env(app, keys, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, keys)
    store = LocalStorage(tmp_path / "storage")
    monkeypatch.setitem(app.extensions, "storage", store)
    return store


class World:
    """An enterprise and a person, each with records of several kinds, plus staff."""

    def __init__(self):
        self.dept = make_department()
        self.uscc = make_uscc()
        self.id_number = make_id_number(251)
        self.other_id_number = make_id_number(252)
        recent = dt.date.today() - dt.timedelta(days=60)
        self.enterprise_records = [
            self._write(category=RecordCategory.PENALTY, tier=PenaltyTier.GENERAL, decision_date=recent),
            self._write(category=RecordCategory.PENALTY, tier=PenaltyTier.SERIOUS, decision_date=recent),
            self._write(
                category=RecordCategory.LICENCE,
                tier=None,
                title="食品经营许可",
                decision_date=recent,
                valid_until=recent + dt.timedelta(days=1800),
                penalty_category=None,
                penalty_content=None,
            ),
            # Minor (简易程序) penalty: never published, yet the special report must show it.
            self._write(category=RecordCategory.PENALTY, tier=PenaltyTier.MINOR, decision_date=recent),
            self._write(category=RecordCategory.ENFORCEMENT, tier=None, decision_date=recent),
        ]
        self.person_records = [
            self._write(
                uscc=None,
                id_number=self.id_number,
                subject_name=PERSON_NAME,
                decision_date=recent,
                tier=PenaltyTier.GENERAL,
            ),
            self._write(
                uscc=None,
                id_number=self.id_number,
                subject_name=PERSON_NAME,
                category=RecordCategory.COURT_DEFAULTER,
                tier=None,
                decision_date=recent,
            ),
        ]
        self._write(uscc=None, id_number=self.other_id_number, subject_name="李四", decision_date=recent)
        db.session.flush()
        self.enterprise = db.session.scalar(db.select(Subject).where(Subject.uscc == self.uscc))
        self.person = self._person(self.id_number)
        self.other_person = self._person(self.other_id_number)

    def _write(self, **overrides) -> CreditRecord:
        values = {"uscc": self.uscc, "subject_name": ENTERPRISE_NAME, "received_date": dt.date.today()}
        values.update(overrides)
        item = record_input(self.dept, **values)
        write_records(item)
        db.session.flush()
        return db.session.scalar(db.select(CreditRecord).where(CreditRecord.decision_number == item.decision_number))

    @staticmethod
    def _person(id_number: str) -> Subject:
        from backend.records.operations import find_natural_subject

        subject = find_natural_subject(id_number)
        assert subject is not None
        return subject

    @property
    def published_enterprise_records(self) -> list[CreditRecord]:
        return [r for r in self.enterprise_records if r.published]


@pytest.fixture
def world(app):
    return World()
