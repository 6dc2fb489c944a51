import datetime as dt

import pytest

from backend.records.models import PenaltyTier, RecordCategory, RecordStatus
from backend.records.publicity import PublicityRules

D = dt.date
rules = PublicityRules()


def decide(category=RecordCategory.PENALTY, tier=PenaltyTier.GENERAL, end=None, valid_until=None, natural=False):
    return rules.decide(
        category=category,
        tier=tier,
        decision_date=D(2026, 3, 15),
        publicity_end_date=end,
        valid_until=valid_until,
        natural_person=natural,
    )


def test_natural_persons_never_published():
    assert not decide(natural=True).published
    assert not decide(category=RecordCategory.LICENCE, tier=None, natural=True).published


def test_minor_not_published_by_default_but_capped_when_configured():
    assert not decide(tier=PenaltyTier.MINOR).published
    published = PublicityRules(minor_published=True)
    d = published.decide(
        category=RecordCategory.PENALTY,
        tier=PenaltyTier.MINOR,
        decision_date=D(2026, 3, 15),
        publicity_end_date=D(2027, 3, 15),
        valid_until=None,
        natural_person=False,
    )
    assert d.published
    assert d.visible_until == D(2026, 6, 15)


@pytest.mark.parametrize(
    ("tier", "sent_end", "expected"),
    [
        (PenaltyTier.GENERAL, None, D(2027, 3, 15)),  # default: the maximum
        (PenaltyTier.GENERAL, D(2026, 4, 1), D(2026, 6, 15)),  # raised to the 3-month minimum
        (PenaltyTier.GENERAL, D(2026, 10, 1), D(2026, 10, 1)),  # within range: as sent
        (PenaltyTier.GENERAL, D(2028, 1, 1), D(2027, 3, 15)),  # cut to the 1-year maximum
        (PenaltyTier.SERIOUS, D(2026, 12, 1), D(2027, 3, 15)),  # serious: at least 1 year
        (PenaltyTier.SERIOUS, D(2031, 1, 1), D(2029, 3, 15)),  # serious: at most 3 years
    ],
)
def test_penalty_periods_clamped(tier, sent_end, expected):
    assert decide(tier=tier, end=sent_end).visible_until == expected


def test_negative_records_not_disclosed_after_five_years():
    d = decide(category=RecordCategory.DISHONEST_LIST, tier=None)
    assert d.visible_until == D(2031, 3, 15)
    licence = decide(category=RecordCategory.LICENCE, tier=None)
    assert licence.visible_until is None


def test_minimum_end_for_repair():
    assert rules.minimum_end(PenaltyTier.GENERAL, D(2026, 3, 15)) == D(2026, 6, 15)
    assert rules.minimum_end(PenaltyTier.SERIOUS, D(2026, 3, 15)) == D(2027, 3, 15)


def test_visibility_by_status_and_date():
    today = D(2026, 11, 26)
    assert PublicityRules.is_visible(RecordStatus.PUBLIC, True, D(2026, 11, 26), today)
    assert PublicityRules.is_visible(RecordStatus.UNDER_OBJECTION, True, None, today)
    assert not PublicityRules.is_visible(RecordStatus.PUBLIC, True, D(2026, 11, 25), today)
    assert not PublicityRules.is_visible(RecordStatus.REPAIRED, True, None, today)
    assert not PublicityRules.is_visible(RecordStatus.PUBLIC, False, None, today)


def test_periods_come_from_settings(app):
    settings = app.extensions["settings"]
    r = PublicityRules.from_settings(settings)
    assert r.period_months(PenaltyTier.SERIOUS) == (
        settings.PUBLICITY_SERIOUS_MIN_MONTHS,
        settings.PUBLICITY_SERIOUS_MAX_MONTHS,
    )
