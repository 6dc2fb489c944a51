from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ...extensions import db
from ...types import enum_column, utcnow


class MaterialPurpose(enum.Enum):
    EVIDENCE = "evidence"  # 证明材料（决定书、撤销决定、判决书、认定单位证明等）
    FULFILMENT = "fulfilment"  # 履行义务证明（缴款凭证、整改完成证明等）
    AUTHORISATION = "authorisation"  # 授权委托书 / 法定代表人身份证明书
    APPLICATION_FORM = "application_form"  # 申请表
    IDENTITY = "identity"  # 身份证明
    OTHER = "other"


class MaterialType(enum.Enum):
    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"

    @property
    def mime(self) -> str:
        return {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}[self.value]

    @property
    def extension(self) -> str:
        return {"pdf": "pdf", "jpeg": "jpg", "png": "png"}[self.value]


class Material(db.Model):
    """An uploaded supporting document (申请材料), stored outside the web root under a random key.

    Uploaded first, then attached to one objection or one repair application when it is filed
    or supplemented.
    """

    __tablename__ = "material"
    __table_args__ = (
        sa.CheckConstraint("objection_id IS NULL OR repair_application_id IS NULL", name="one_case_at_most"),
        sa.CheckConstraint("size_bytes > 0", name="not_empty"),
        sa.CheckConstraint("length(sha256) = 64", name="hash_is_sha256"),
        sa.CheckConstraint("(file_type = 'pdf' AND pages >= 1) OR (file_type <> 'pdf' AND pages = 1)", name="pages"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    storage_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    size_bytes: Mapped[int]
    file_type: Mapped[MaterialType] = mapped_column(enum_column(MaterialType, "material_type"))
    pages: Mapped[int]
    original_name: Mapped[str] = mapped_column(sa.String(120))  # sanitised, for display only
    purpose: Mapped[MaterialPurpose] = mapped_column(enum_column(MaterialPurpose, "material_purpose"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    uploader_key: Mapped[str] = mapped_column(sa.String(100))  # only the uploader may attach it
    channel: Mapped[str] = mapped_column(sa.String(20))
    objection_id: Mapped[int | None] = mapped_column(sa.ForeignKey("objection.id"), index=True)
    repair_application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("repair_application.id"), index=True)

    @property
    def is_attached(self) -> bool:
        return self.objection_id is not None or self.repair_application_id is not None
