"""The plain content of a credit report: what the PDF shows, independent of how it is drawn.

The backend builds a ``ReportContent`` from its records, computes ``content_digest()`` (registered
with the report and carried in the QR token), then renders it. The digest covers every fact the
reader sees and nothing that is only derived from the digest itself (verification URL and code).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum

# China has one time zone and no daylight saving time: a fixed offset needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "CST")

DEFAULT_ISSUER = "金昌市信用信息中心"
DEFAULT_PLATFORM = "信用金昌"
# Names no domain: which domains the platform actually receives is the report's own table
# (``ReportContent.sources``); a fixed list here once claimed 刑事判决 with no such feed.
DEFAULT_DATA_SOURCES = (
    "本报告信息来源于金昌市公共信用信息平台，由各级行政机关、司法机关及其他公共管理机构"
    "依法依规报送、平台归集的公共信用信息；各类信息的提供单位和归集情况见下表。"
)

# What an empty domain says: 无 only where the platform receives the domain's data for the whole
# period; otherwise that it does not collect it (issue 16 item 12; a special report printing 无
# for a domain it has no feed of would be a false certificate).
NONE_TEXT = "无"
NOT_COLLECTED_TEXT = "本平台未归集此类信息"

# The key a row dict uses to say the record has been through credit repair (信用修复).
REPAIRED_KEY = "repaired"
_FALSE_VALUES = frozenset({"", "0", "false", "no", "否"})

CANONICAL_VERSION = 1


class ReportKind(StrEnum):
    """报告种类."""

    ENTERPRISE = "enterprise"
    PERSONAL = "personal"
    SPECIAL = "special"

    @property
    def title(self) -> str:
        return _KIND_TITLES[self]

    @property
    def code(self) -> int:
        """Small integer for the compact QR token; never reuse a retired value."""
        return _KIND_CODES[self]

    @classmethod
    def from_code(cls, code: int) -> ReportKind:
        for kind, value in _KIND_CODES.items():
            if value == code:
                return kind
        raise ValueError(f"unknown report kind code {code}")


_KIND_TITLES = {
    ReportKind.ENTERPRISE: "法人和非法人组织公共信用信息报告",
    ReportKind.PERSONAL: "个人公共信用信息报告",
    ReportKind.SPECIAL: "专项信用报告（有无违法违规记录证明版）",
}
_KIND_CODES = {ReportKind.ENTERPRISE: 1, ReportKind.PERSONAL: 2, ReportKind.SPECIAL: 3}


@dataclass(frozen=True)
class Column:
    label: str
    field: str
    width: float = 1.0  # share of the table width, relative to the other columns


@dataclass(frozen=True)
class Section:
    """One category of records (e.g. 行政处罚), drawn as one table."""

    key: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, str]] = ()
    empty_text: str = NONE_TEXT
    # False: the platform receives no data of this domain for the report's period, so an empty
    # section must not read as "no record" (heading, table and overview say so instead).
    collected: bool = True

    def __post_init__(self) -> None:
        # Accept plain (label, field, width) tuples so callers need not import Column.
        cols = tuple(c if isinstance(c, Column) else Column(*c) for c in self.columns)
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "rows", tuple(dict(r) for r in self.rows))
        if not cols:
            raise ValueError(f"section {self.key!r} has no columns")

    @staticmethod
    def is_repaired(row: Mapping[str, object]) -> bool:
        value = row.get(REPAIRED_KEY)
        if isinstance(value, bool):
            return value
        return value is not None and str(value).strip().lower() not in _FALSE_VALUES

    @property
    def empty_label(self) -> str:
        """The short word an empty section gets in its heading and in the overview: 无 only when
        its own text is the plain 无 (the domain is collected for the whole period)."""
        if not self.collected:
            return "未归集"
        return NONE_TEXT if self.empty_text == NONE_TEXT else "无（部分期间未归集）"

    @property
    def repaired_count(self) -> int:
        return sum(1 for r in self.rows if self.is_repaired(r))


@dataclass(frozen=True)
class Subject:
    """The enterprise or person the report is about. ``code`` is already masked where the law asks."""

    name: str
    code_label: str  # 统一社会信用代码 / 身份证号码
    code: str
    details: Sequence[tuple[str, str]] = ()  # ordered (label, value): 法定代表人, 住所, ...

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", tuple((str(k), str(v)) for k, v in self.details))


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("period end is before its start")


@dataclass(frozen=True)
class SourceLine:
    """One domain of the data-coverage table in the notes (信息归集情况): who sends it, since
    when, when last, and what the report can say about it."""

    title: str
    providers: str  # 数据提供单位, or "—"
    since: str  # the day the data is complete from, or "—"
    last_received: str  # the latest receipt, or "—"
    statement: str  # e.g. 已归集 / 本平台未归集此类信息


@dataclass(frozen=True)
class OverviewLine:
    title: str
    count: int
    repaired: int
    collected: bool = True
    empty_label: str = NONE_TEXT


@dataclass(frozen=True)
class ReportContent:
    number: str
    kind: ReportKind
    issued_at: datetime
    valid_until: date
    data_cutoff_at: datetime
    subject: Subject
    sections: Sequence[Section]
    issuer: str = DEFAULT_ISSUER
    platform: str = DEFAULT_PLATFORM
    period: Period | None = None  # special report: the period the subject chose
    domains: Sequence[str] = ()  # special report: the domains the subject chose
    data_sources: str = DEFAULT_DATA_SOURCES
    notes: Sequence[str] = ()
    sources: Sequence[SourceLine] = ()  # data coverage per domain (信息归集情况)
    # Filled in after the digest is known; not part of the digest.
    verification_url: str = ""
    verification_code: str = ""
    verify_page_url: str = ""  # e.g. https://credit.example/verify, for readers without a phone
    _digest_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("issued_at", "data_cutoff_at"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                # A naive time would hash differently on servers in different zones.
                raise ValueError(f"{name} must be timezone-aware")
        object.__setattr__(self, "kind", ReportKind(self.kind))
        object.__setattr__(self, "sections", tuple(self.sections))
        object.__setattr__(self, "domains", tuple(self.domains))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "sources", tuple(self.sources))
        keys = [s.key for s in self.sections]
        if len(keys) != len(set(keys)):
            raise ValueError("section keys must be unique")

    @property
    def title(self) -> str:
        return self.kind.title

    def overview(self) -> list[OverviewLine]:
        return [OverviewLine(s.title, len(s.rows), s.repaired_count, s.collected, s.empty_label) for s in self.sections]

    def canonical_data(self) -> dict:
        data = {
            "v": CANONICAL_VERSION,
            "number": self.number,
            "kind": self.kind.value,
            "issued_at": _utc(self.issued_at),
            "valid_until": self.valid_until.isoformat(),
            "data_cutoff_at": _utc(self.data_cutoff_at),
            "issuer": self.issuer,
            "platform": self.platform,
            "subject": {
                "name": self.subject.name,
                "code_label": self.subject.code_label,
                "code": self.subject.code,
                "details": [list(p) for p in self.subject.details],
            },
            "period": [self.period.start.isoformat(), self.period.end.isoformat()] if self.period else None,
            "domains": list(self.domains),
            "data_sources": self.data_sources,
            "notes": list(self.notes),
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "columns": [[c.label, c.field, c.width] for c in s.columns],
                    "rows": [_canonical_row(r) for r in s.rows],
                    "empty_text": s.empty_text,
                    # Written only when False, so the digests of reports issued before the
                    # field existed are unchanged.
                    **({} if s.collected else {"collected": False}),
                }
                for s in self.sections
            ],
        }
        if self.sources:
            data["sources"] = [[x.title, x.providers, x.since, x.last_received, x.statement] for x in self.sources]
        return data

    def canonical_json(self) -> bytes:
        """Stable UTF-8 JSON: sorted keys, no whitespace, so the same content always hashes the same."""
        return json.dumps(self.canonical_data(), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def content_digest(self) -> bytes:
        # Frozen dataclass: the digest cannot change once computed, so cache it for the renderer.
        if "d" not in self._digest_cache:
            self._digest_cache["d"] = hashlib.sha256(self.canonical_json()).digest()
        return self._digest_cache["d"]

    @property
    def content_hash(self) -> str:
        """Hex SHA-256 of ``canonical_json()``, printed on the report and registered by the backend."""
        return self.content_digest().hex()


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _canonical_row(row: Mapping[str, object]) -> dict:
    out = {k: str(v) for k, v in row.items() if k != REPAIRED_KEY}
    out[REPAIRED_KEY] = Section.is_repaired(row)
    return out
