"""Who does something: every operation takes an explicit actor (for permissions and audit)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CitizenIdentity:
    """What a channel has established about a citizen (the contract the WeChat and kiosk
    channels fill in): ``subject_id`` is the natural-person subject the citizen was verified as
    (real-name check: WeChat face verification, ID card on the kiosk reader); ``represents``
    holds the legal subjects the citizen may act for as legal representative or authorised
    agent, once such a binding has been checked."""

    subject_id: int
    represents: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Actor:
    type: str  # staff | citizen | department | system | kiosk
    id: str | None
    label: str
    channel: str  # admin | cli | dept_api | mp | kiosk | public | job
    ip: str | None = None
    obj: Any = None  # the StaffUser / Department behind it, when there is one

    @classmethod
    def staff(cls, user: Any, ip: str | None = None, channel: str = "admin") -> Actor:
        return cls("staff", str(user.id), user.username, channel, ip, user)

    @classmethod
    def department(cls, department: Any, ip: str | None = None) -> Actor:
        return cls("department", str(department.id), department.code, "dept_api", ip, department)

    @classmethod
    def cli(cls, label: str = "cli") -> Actor:
        return cls("system", None, label, "cli")

    @classmethod
    def system(cls, label: str = "system", channel: str = "job") -> Actor:
        return cls("system", None, label, channel)

    @classmethod
    def citizen(
        cls,
        subject_id: int,
        channel: str,
        *,
        account_id: str | None = None,
        represents: Iterable[int] = (),
        ip: str | None = None,
    ) -> Actor:
        """A real-name verified citizen; ``account_id`` is the channel's own account (e.g. the
        mini-program user), defaulting to the subject id."""
        ident = CitizenIdentity(int(subject_id), frozenset(int(s) for s in represents))
        account = str(account_id) if account_id is not None else str(subject_id)
        return cls("citizen", account, f"citizen-{account}", channel, ip, ident)

    @classmethod
    def public(cls, ip: str | None = None) -> Actor:
        return cls("public", None, "anonymous", "public", ip)
