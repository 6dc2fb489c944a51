"""Every model, imported in one place so Alembic and the app see the whole schema."""

# The channels' tables (kiosk/, miniprogram_api/), known to the metadata and Alembic like the rest.
from kiosk.models import KioskDevice, KioskSession, PrintJob  # noqa: F401
from miniprogram_api.models import (  # noqa: F401
    EnterpriseBinding,
    FaceVerification,
    KioskLoginTicket,
    MessageAttempt,
    MpSession,
    MpSubscription,
    WeChatAccessToken,
    WeChatNonce,
    WeChatUser,
)

from .audit.models import AuditChainHead, AuditEvent
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
    "ImportBatch",
    "ImportRowError",
    "ImportStatus",
    "IssuedReport",
    "IssuedReportRecord",
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
]
