"""Validation of the two national identifiers, with errors that say exactly what is wrong.

统一社会信用代码 (USCC, GB 32100-2015) and 居民身份证号码 (GB 11643-1999). python-stdnum computes the
ID number's check character; the USCC's position 18 is computed here with stdnum's algorithm
and table, without its per-call input cleaning (imports validate tens of thousands of codes a
second; the tests check both agree). On top of stdnum we check the GB 11714 organisation-code
check character at position 17 (stdnum does not) and keep an allow-list for legal early pilot
codes that fail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from stdnum.cn import ric as stdnum_ric

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Registering authorities (position 1) in use: GB 32100-2015 and its later assignments.
USCC_AUTHORITIES = set("123456789ANY")
# For market regulation (9) the category (position 2) is 1 enterprise, 2 个体工商户, 3 合作社.
USCC_MARKET_CATEGORIES = set("123")
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
RIC_PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83", "91",
}  # fmt: skip


class IdentifierError(ValueError):
    """An identifier is invalid; ``message`` is Chinese for the user, ``position`` 1-based."""

    def __init__(self, message: str, *, reason: str, position: int | None = None, expected: str | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.position = position
        self.expected = expected

    def as_details(self) -> dict:
        details: dict = {"reason": self.reason}
        if self.position is not None:
            details["position"] = self.position
        if self.expected is not None:
            details["expected"] = self.expected
        return details


@dataclass(frozen=True)
class Uscc:
    code: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def authority(self) -> str:
        return self.code[0]

    @property
    def area_code(self) -> str:
        return self.code[2:8]

    @property
    def org_code(self) -> str:
        return self.code[8:17]


def normalize(value: str) -> str:
    return "".join(str(value).split()).upper()


# Per-character values, computed once: imports validate tens of thousands of codes a second.
_ORG_VALUES = {char: (int(char) if char.isdigit() else ord(char) - ord("A") + 10) for char in USCC_ALPHABET}
_USCC_VALUES = {char: index for index, char in enumerate(USCC_ALPHABET)}
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def org_code_check_char(body: str) -> str:
    """GB 11714 check character for the 8-character organisation code body."""
    total = sum(_org_value(c) * w for c, w in zip(body, ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _org_value(char: str) -> int:
    value = _ORG_VALUES.get(char)
    return value if value is not None else int(char) if char.isdigit() else ord(char) - ord("A") + 10


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character (position 18) of 17 USCC characters: python-stdnum's
    ``calc_check_digit`` without its per-call cleaning (tests compare the two)."""
    total = sum(_USCC_VALUES[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total) % 31]


def validate_uscc(value: str, allowlist: Iterable[str] = ()) -> Uscc:
    """Return the normalised code or raise IdentifierError naming the problem."""
    code = normalize(value)
    if len(code) != 18:
        raise IdentifierError(f"统一社会信用代码应为18位，当前为{len(code)}位", reason="length", expected="18")
    for index, char in enumerate(code, start=1):
        if char not in USCC_ALPHABET:
            raise IdentifierError(
                f"统一社会信用代码第{index}位字符“{char}”不合法（只能使用数字和除 I、O、S、V、Z 以外的大写字母）",
                reason="illegal_character",
                position=index,
            )
    try:
        _check_uscc_structure(code)
    except IdentifierError:
        if code in set(allowlist):
            return Uscc(code, ("该代码为早期试点代码，未通过校验，已按白名单接受",))
        raise
    return Uscc(code)


def _check_uscc_structure(code: str) -> None:
    if code[0] not in USCC_AUTHORITIES:
        raise IdentifierError(
            f"统一社会信用代码第1位（登记管理部门代码）“{code[0]}”不存在", reason="authority", position=1
        )
    if code[0] == "9" and code[1] not in USCC_MARKET_CATEGORIES:
        raise IdentifierError(
            f"统一社会信用代码第2位（机构类别代码）“{code[1]}”对市场监管登记的主体无效（应为1、2或3）",
            reason="category",
            position=2,
        )
    for index in range(3, 9):
        if not code[index - 1].isdigit():
            raise IdentifierError(
                f"统一社会信用代码第{index}位应为数字（第3至8位是行政区划代码）",
                reason="area_code",
                position=index,
            )
    expected17 = org_code_check_char(code[8:16])
    if code[16] != expected17:
        raise IdentifierError(
            f"统一社会信用代码第17位（组织机构代码校验码）应为“{expected17}”，实际为“{code[16]}”",
            reason="org_check",
            position=17,
            expected=expected17,
        )
    expected18 = uscc_check_char(code[:17])
    if code[17] != expected18:
        raise IdentifierError(
            f"统一社会信用代码第18位（校验码）应为“{expected18}”，实际为“{code[17]}”",
            reason="check",
            position=18,
            expected=expected18,
        )


def uscc_with_check(first17: str) -> str:
    """Complete a 17-character USCC prefix with its check character (demo data, tests)."""
    return first17 + uscc_check_char(first17)


def validate_id_number(value: str, today: dt.date | None = None) -> str:
    """Validate an 18-character 居民身份证号码; return it normalised (upper-case X)."""
    number = normalize(value)
    if len(number) != 18:
        raise IdentifierError(f"身份证号码应为18位，当前为{len(number)}位", reason="length", expected="18")
    for index, char in enumerate(number[:17], start=1):
        if not char.isdigit():
            raise IdentifierError(
                f"身份证号码第{index}位应为数字，实际为“{char}”", reason="illegal_character", position=index
            )
    if not (number[17].isdigit() or number[17] == "X"):
        raise IdentifierError(
            f"身份证号码第18位应为数字或X，实际为“{number[17]}”", reason="illegal_character", position=18
        )
    if number[:2] not in RIC_PROVINCES:
        raise IdentifierError(
            f"身份证号码前两位“{number[:2]}”不是有效的省级行政区划代码", reason="area_code", position=1
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentifierError(
            f"身份证号码第7至14位的出生日期“{number[6:14]}”不是真实存在的日期",
            reason="birth_date",
            position=7,
        ) from None
    today = today or dt.date.today()
    if birth > today or birth.year < 1880:
        raise IdentifierError(f"身份证号码第7至14位的出生日期“{number[6:14]}”不合理", reason="birth_date", position=7)
    expected = stdnum_ric.calc_check_digit(number[:17] + "0")
    if number[17] != expected:
        raise IdentifierError(
            f"身份证号码第18位（校验码）应为“{expected}”，实际为“{number[17]}”",
            reason="check",
            position=18,
            expected=expected,
        )
    return number


def id_number_with_check(first17: str) -> str:
    return first17 + stdnum_ric.calc_check_digit(first17 + "0")
