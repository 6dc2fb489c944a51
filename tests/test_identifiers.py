import datetime as dt

import pytest
from stdnum.cn import ric, uscc

from backend.identifiers import (
    USCC_ALPHABET,
    IdentifierError,
    org_code_check_char,
    uscc_check_char,
    validate_id_number,
    validate_uscc,
)

VALID_USCC = ["914403001922038216", "91110108795101314G", "91620302MA71XY3Q54"]


@pytest.mark.parametrize("code", VALID_USCC)
def test_valid_uscc_accepted_and_agrees_with_stdnum(code):
    assert validate_uscc(code).code == code
    assert uscc.is_valid(code)


def test_our_uscc_check_character_is_stdnums():
    """Position 18 is computed without stdnum's per-call cleaning: same answers, 5,000 codes."""
    import random

    rng = random.Random(11714)
    for _ in range(5000):
        first17 = "".join(rng.choice(USCC_ALPHABET) for _ in range(17))
        assert uscc_check_char(first17) == uscc.calc_check_digit(first17), first17


def test_uscc_is_uppercased_and_stripped():
    assert validate_uscc(" 91620302ma71xy3q54 ").code == "91620302MA71XY3Q54"


@pytest.mark.parametrize(
    ("code", "reason", "position", "fragment"),
    [
        ("91620302MA71XY3Q55", "check", 18, "第18位（校验码）应为“4”"),
        ("91620302MA71XY3QS4", "illegal_character", 17, "第17位字符“S”不合法"),
        ("91620302MA71XY3Q5", "length", None, "应为18位，当前为17位"),
        ("96620302MA71XY3Q54", "category", 2, "第2位"),
        ("Z1620302MA71XY3Q54", "illegal_character", 1, "第1位字符“Z”"),
        ("91620A02MA71XY3Q54", "area_code", 6, "第6位应为数字"),
    ],
)
def test_invalid_uscc_says_what_is_wrong(code, reason, position, fragment):
    with pytest.raises(IdentifierError) as info:
        validate_uscc(code)
    assert info.value.reason == reason
    assert info.value.position == position
    assert fragment in info.value.message


def test_org_code_check_character_at_position_17():
    # Position 18 recomputed so only the GB 11714 character (17) is wrong.
    body = "91620302MA71XY3Q"
    wrong17 = body + "6"
    code = wrong17 + uscc.calc_check_digit(wrong17)
    assert uscc.is_valid(code)  # stdnum alone accepts it
    with pytest.raises(IdentifierError) as info:
        validate_uscc(code)
    assert info.value.position == 17
    assert info.value.expected == "5" == org_code_check_char("MA71XY3Q")


def test_legacy_pilot_code_only_through_allow_list():
    with pytest.raises(IdentifierError):
        validate_uscc("91350100M0001TGQXM")
    result = validate_uscc("91350100M0001TGQXM", allowlist=["91350100M0001TGQXM"])
    assert result.warnings
    assert "白名单" in result.warnings[0]


@pytest.mark.parametrize("number", ["11010519491231002X", "620302199003072516", "11010519491231002x"])
def test_valid_id_numbers(number):
    assert validate_id_number(number) == number.upper()
    assert ric.is_valid(number)


@pytest.mark.parametrize(
    ("number", "reason", "fragment"),
    [
        ("620302199002302519", "birth_date", "19900230"),
        ("620302199003072517", "check", "应为“6”"),
        ("62030219900307251", "length", "当前为17位"),
        ("6203021990030725A6", "illegal_character", "第17位"),
        ("990302199003072516", "area_code", "省级"),
    ],
)
def test_invalid_id_numbers(number, reason, fragment):
    with pytest.raises(IdentifierError) as info:
        validate_id_number(number)
    assert info.value.reason == reason
    assert fragment in info.value.message


def test_birth_date_in_future_refused():
    with pytest.raises(IdentifierError) as info:
        validate_id_number("620302203001012513", today=dt.date(2026, 11, 26))
    assert info.value.reason in {"birth_date", "check"}
