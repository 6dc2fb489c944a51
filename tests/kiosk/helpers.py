"""CUPS, cups-pdf, the live server and the kiosk data for the kiosk tests (a plain module:
conftest.py is not importable)."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.records.models import CreditRecord, PenaltyTier
from backend.records.operations import find_natural_subject
from backend.subjects.models import Subject
from kiosk import operations as ops
from kiosk.agent.signing import PAYLOAD_TYPE, DeviceKey
from kiosk.models import KioskDevice
from tests.factories import make_department, make_id_number, make_uscc, record_input, write_records

HERE = Path(__file__).parent
OUTPUT = HERE / "output"  # screenshots for review (gitignored)
AXE = HERE / "vendor" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
PDF_QUEUE = "kiosk-pdf"  # cups-pdf: the virtual printer that writes PDFs
EMPTY_QUEUE = "kiosk-empty"  # a printer out of paper (tests/kiosk/cups/kiosk-paperout)
CUPS_PDF_PPD = "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd"
BACKEND_DIR = Path("/usr/lib/cups/backend")
TOOLS = ("lp", "lpstat", "lpadmin", "lpoptions", "cancel", "cupsenable", "ipptool", "pdftoppm", "pdftotext", "zbarimg")
PACKAGES = "chromium cups cups-ipp-utils printer-driver-cups-pdf fonts-wqy-microhei poppler-utils zbar-tools"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=60)


# --- CUPS ----------------------------------------------------------------------------------


def missing_tools() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    if not Path("/usr/sbin/cupsd").exists():
        missing.append("cupsd")
    return missing


def ensure_cups() -> None:
    """Start the CUPS scheduler if it is not running (CI starts nothing for us) and create the
    cups-pdf queue; install the paper-out test backend."""
    if "scheduler is running" not in run("lpstat", "-r", check=False).stdout:
        run("/usr/sbin/cupsd")  # forks into the background
        for _ in range(50):
            if "scheduler is running" in run("lpstat", "-r", check=False).stdout:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("cupsd did not start")
    backend = BACKEND_DIR / "kiosk-paperout"
    source = HERE / "cups" / "kiosk-paperout"
    if not backend.exists() or backend.read_bytes() != source.read_bytes():
        shutil.copyfile(source, backend)
        backend.chmod(0o755)  # CUPS runs 0755 backends as its unprivileged user
    run("lpadmin", "-p", PDF_QUEUE, "-E", "-v", "cups-pdf:/", "-m", CUPS_PDF_PPD)
    run("cupsenable", PDF_QUEUE)
    run("cupsaccept", PDF_QUEUE)


def fresh_empty_queue() -> None:
    """A newly installed printer that will turn out to have no paper at its first job."""
    run("lpadmin", "-x", EMPTY_QUEUE, check=False)
    run("lpadmin", "-p", EMPTY_QUEUE, "-E", "-v", "kiosk-paperout:/", "-m", CUPS_PDF_PPD)


def queued_jobs(queue: str) -> list[str]:
    return [line.split()[0] for line in run("lpstat", "-o", queue, check=False).stdout.splitlines() if line.strip()]


def cups_pdf_dirs() -> list[Path]:
    """Where cups-pdf writes: its ``Out`` setting (default ${HOME}/PDF of the job's user, who is
    the user running the tests) and the folder for anonymous jobs."""
    out, anon = "${HOME}/PDF", "/var/spool/cups-pdf/ANONYMOUS"
    conf = Path("/etc/cups/cups-pdf.conf")
    if conf.exists():
        for line in conf.read_text(errors="replace").splitlines():
            parts = line.strip().split(None, 1)
            if len(parts) == 2 and parts[0] == "Out":
                out = parts[1]
            elif len(parts) == 2 and parts[0] == "AnonDirName":
                anon = parts[1]
    user = pwd.getpwuid(os.getuid())
    out = out.replace("${HOME}", user.pw_dir).replace("${USER}", user.pw_name)
    return [Path(out), Path(anon)]


def wait_cups_pdf(cups_job_id: str, timeout: float = 30) -> Path:
    number = cups_job_id.rsplit("-", 1)[-1]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for folder in cups_pdf_dirs():
            found = sorted(folder.glob(f"*job_{number}.pdf")) if folder.exists() else []
            if found and found[0].stat().st_size > 0:
                time.sleep(0.2)  # cups-pdf writes, then sets the mode: let it finish
                return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no cups-pdf output for job {cups_job_id} in {cups_pdf_dirs()}")


# --- data ----------------------------------------------------------------------------------


@dataclass
class Citizen:
    name: str
    id_number: str
    records: list[CreditRecord] = field(default_factory=list)

    @property
    def subject(self) -> Subject:
        subject = find_natural_subject(self.id_number)
        assert subject is not None
        return subject

    def card(self, face: str = "pass") -> dict:
        return {
            "id_number": self.id_number,
            "name": self.name,
            "valid_until": "2036-01-01",
            "face": {"result": face, "score": 0.93 if face == "pass" else 0.31},
            "reader": "virtual",
        }


class KioskWorld:
    """A department, two citizens with records, an enterprise, and a registered kiosk."""

    def __init__(self, code: str = "JC-ZWDT-01"):
        self.dept = make_department()
        recent = dt.date.today() - dt.timedelta(days=200)
        self.first = Citizen("张明华", make_id_number(301))
        self.second = Citizen("李建国", make_id_number(302))
        for citizen in (self.first, self.second):
            item = record_input(
                self.dept,
                uscc=None,
                id_number=citizen.id_number,
                subject_name=citizen.name,
                tier=PenaltyTier.GENERAL,
                decision_date=recent,
                received_date=recent,
                violation_type="未按规定办理" + ("占道经营" if citizen is self.first else "燃放烟花"),
            )
            write_records(item)
            db.session.flush()
            citizen.records.append(
                db.session.scalar(sa.select(CreditRecord).where(CreditRecord.decision_number == item.decision_number))
            )
        self.uscc = make_uscc()
        write_records(
            record_input(
                self.dept, uscc=self.uscc, decision_date=recent, received_date=recent, tier=PenaltyTier.GENERAL
            )
        )
        self.device, self.credential = ops.register_device(Actor.cli("test"), code, "金昌市政务服务中心", "一楼东侧")
        # The agent's key, enrolled as ``python -m kiosk.agent enrol`` does.
        self.key = DeviceKey.generate()
        ops.enrol_device_key(self.device, self.key.public_key_b64())
        db.session.commit()

    def refreshed_device(self) -> KioskDevice:
        fresh()
        device = db.session.get(KioskDevice, self.device.id)
        assert device is not None
        return device


def reading_payload(world: KioskWorld, citizen: Citizen, challenge: str, face: str = "pass", **changes) -> dict:
    """What the agent signs for ``citizen``'s card on ``world``'s kiosk (kiosk/agent/server.py)."""
    card = citizen.card(face)
    payload = {
        "type": PAYLOAD_TYPE,
        "challenge": challenge,
        "device": world.device.code,
        "id_number": card["id_number"],
        "name": card["name"],
        "valid_until": card["valid_until"],
        "face_result": card["face"]["result"],
        "face_score": card["face"]["score"],
        "read_at": "2026-12-03T08:00:00Z",
        "reader": "virtual",
    }
    payload.update(changes)
    return payload


def signed_reading(key: DeviceKey, payload: dict) -> dict:
    text, signature = key.sign_reading(payload)
    return {"payload": text, "signature": signature}


def fresh() -> None:
    """See what the live server committed (new transaction, nothing cached)."""
    db.session.rollback()
    db.session.expire_all()


def audit_rows(action: str) -> list[AuditEvent]:
    fresh()
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def verified_wechat_token(citizen: Citizen) -> str:
    """A mini-program user verified as ``citizen`` through the channel's own face-verification
    operations (face verification 2.0: a getverifyid session, then queryverifyinfo's passing
    answer as WeChat gives it)."""
    from miniprogram_api.auth import actor_for
    from miniprogram_api.operations import new_out_seq_no, open_session, start_face_verification, verify_identity

    openid = f"openid-{citizen.id_number}"
    token, session = open_session("wx-kiosk-test", openid)
    user = session.user
    face = start_face_verification(user, citizen.name, citizen.id_number, new_out_seq_no(), "fv-" + openid, 3600)
    attempt = verify_identity(
        actor_for(user, ip="127.0.0.1"), user, face, {"errcode": 0, "errmsg": "ok", "verify_ret": 10000}
    )
    assert attempt.outcome.value == "passed"
    db.session.commit()
    return token


def http(method: str, url: str, **kwargs) -> requests.Response:
    return requests.request(method, url, timeout=30, **kwargs)


def text_of(path: Path) -> str:
    return re.sub(r"\s+", "", run("pdftotext", "-layout", str(path), "-").stdout)
