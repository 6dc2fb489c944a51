"""Personal data must never reach a log: a handler on the root logger writes every record of the
whole test session to a file, and at the end the file is searched for the natural persons the
fixtures create (their names, and any valid ID number). Wired in tests/conftest.py."""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

from stdnum.cn import ric

# Natural persons of the fixtures (tests/factories.py, tests/wechat, tests/kiosk, tests/workflows,
# tests/issued_reports, tests/security). Enterprises' legal representatives are public
# registration data, but appear in no log either, so they are listed too.
NAMES = ("张明华", "李建国", "张三明", "赵小红", "李四", "张三", "王晓", "钱七", "金川明", "王五", "王建国")
# 18 characters: region (6), birth date (8), sequence (3), check character.
_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
)


def find_personal_data(text: str, names: tuple[str, ...] = NAMES) -> list[str]:
    """Lines of ``text`` holding a valid ID number or one of ``names``, with what was found."""
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        found = [m for m in _ID_NUMBER.findall(line) if ric.is_valid(m.upper())]
        found += [name for name in names if name in line]
        if found:
            findings.append(f"line {number}: {', '.join(found)}: {line[:300]}")
    return findings


class SessionLogCapture:
    def __init__(self) -> None:
        handle, name = tempfile.mkstemp(prefix="credit-test-logs-", suffix=".log")
        import os

        os.close(handle)
        self.path = Path(name)
        self.handler = logging.FileHandler(self.path, encoding="utf-8", delay=False)
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def start(self) -> None:
        self.ensure()

    def ensure(self) -> None:
        """(Re)attach the handler: Alembic's logging.config.fileConfig, run when the test database
        is migrated, replaces the root logger's handlers."""
        root = logging.getLogger()
        if self.handler not in root.handlers:
            root.addHandler(self.handler)

    def finish(self) -> list[str]:
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        return find_personal_data(self.path.read_text(encoding="utf-8", errors="replace"))
