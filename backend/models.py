"""Every model, imported in one place so Alembic and the app see the whole schema."""

# The channels' own tables (kiosk/, miniprogram_api/) join the metadata when the app factory
# registers those channels (backend/app.py): the core never imports a channel (issue 15).
from .audit.models import AuditChainHead, AuditEvent
from .citizens.models import (
    EnterpriseBinding,
    FaceVerification,
    FaceVerifySession,
    KioskLoginTicket,
    WeChatUser,
)
from .departments.models import ApiNonce, Department, DepartmentApiKey
from .imports.models import ImportBatch, ImportRowError, ImportStatus
from .issued_reports.models import IssuedReport, IssuedReportRecord, ReportStatus
from .records.domains import DataDomainFeed
from .records.models import CreditRecord, PenaltyTier, RecordCategory, RecordStatus
from .staff.models import StaffRole, StaffSession, StaffUser
from .subjects.models import Subject, SubjectCodeIssue, SubjectKind, SubjectNameDiscrepancy
from .workdays.models import CalendarOverride, CalendarYear
from .workflows.models import *  # noqa: F403  (workflows, materials, commitments, outbox)

__all__ = [
    "ApiNonce",
    "AuditChainHead",
    "AuditEvent",
    "CalendarOverride",
    "CalendarYear",
    "CreditRecord",
    "DataDomainFeed",
    "Department",
    "DepartmentApiKey",
    "EnterpriseBinding",
    "FaceVerification",
    "FaceVerifySession",
    "ImportBatch",
    "ImportRowError",
    "ImportStatus",
    "IssuedReport",
    "IssuedReportRecord",
    "KioskLoginTicket",
    "PenaltyTier",
    "RecordCategory",
    "RecordStatus",
    "ReportStatus",
    "StaffRole",
    "StaffSession",
    "StaffUser",
    "Subject",
    "SubjectCodeIssue",
    "SubjectKind",
    "SubjectNameDiscrepancy",
    "WeChatUser",
]
