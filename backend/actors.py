"""Who does something: every operation takes an explicit actor (for permissions and audit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    def public(cls, ip: str | None = None) -> Actor:
        return cls("public", None, "anonymous", "public", ip)
