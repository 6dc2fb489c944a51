"""Every model of the workflows and the outbox, for backend/models.py to import in one line."""

from ..outbox.models import OutboxEvent, OutboxStatus
from .cases import ApplicantKind, CaseState
from .commitments.models import CommitmentKind, CreditCommitment
from .materials.models import Material, MaterialPurpose, MaterialType
from .objections.models import Objection, ObjectionGround, ObjectionHistory, ObjectionOutcome
from .repairs.models import RepairApplication, RepairArchive, RepairHistory, RepairOutcome

__all__ = [
    "ApplicantKind",
    "CaseState",
    "CommitmentKind",
    "CreditCommitment",
    "Material",
    "MaterialPurpose",
    "MaterialType",
    "Objection",
    "ObjectionGround",
    "ObjectionHistory",
    "ObjectionOutcome",
    "OutboxEvent",
    "OutboxStatus",
    "RepairApplication",
    "RepairArchive",
    "RepairHistory",
    "RepairOutcome",
]
