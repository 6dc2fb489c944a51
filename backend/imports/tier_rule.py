"""The city's rule that gives a penalty its tier when the file carries none (issue 16 item 3).

The 2021 national 行政处罚 templates have no tier column, while publicity depends on the tier
(国办发〔2025〕22号 section 二; NDRC Order No. 36 《信用修复管理办法》: 轻微 / 一般 / 严重). The city
configures the rule (``TIER_RULE_*`` settings); a tier derived by it is marked ``tier_derived``
and listed for the department to confirm or change. A tier the file carries always wins.

- 轻微: every penalty kind sent is one of ``TIER_RULE_MINOR_PENALTY_KINDS`` (警告, 通报批评: the
  lightest kinds of 《中华人民共和国行政处罚法》 art. 9 (一)), or the decision says it was taken
  under 简易程序 (行政处罚法 art. 51: 当场 decisions, 警告 or small fines), per
  ``TIER_RULE_MINOR_MARKERS`` looked for in 处罚内容, 处罚类别 and 备注.
- 严重: the violation type is one the city lists as serious (``TIER_RULE_SERIOUS_VIOLATION_TYPES``),
  or the penalty kind contains one of ``TIER_RULE_SERIOUS_PENALTY_KINDS`` (吊销, 责令关闭, 限制从业:
  the heaviest kinds of 行政处罚法 art. 9 (四)-(五)).
- 一般: otherwise.

Bounded work: a split of the penalty kind and substring tests against a few configured words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import Settings
from ..records.models import PenaltyTier

_KIND_SEPARATORS = re.compile(r"[、，,；;/\s]+")


@dataclass(frozen=True)
class TierRule:
    minor_kinds: frozenset[str] = frozenset({"警告", "通报批评"})
    minor_markers: tuple[str, ...] = ("简易程序",)
    serious_kinds: tuple[str, ...] = ("吊销", "责令关闭", "限制从业")
    serious_violation_types: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, s: Settings) -> TierRule:
        return cls(
            minor_kinds=frozenset(s.TIER_RULE_MINOR_PENALTY_KINDS),
            minor_markers=tuple(s.TIER_RULE_MINOR_MARKERS),
            serious_kinds=tuple(s.TIER_RULE_SERIOUS_PENALTY_KINDS),
            serious_violation_types=frozenset(s.TIER_RULE_SERIOUS_VIOLATION_TYPES),
        )

    def derive(
        self,
        *,
        penalty_category: str | None,
        violation_type: str | None,
        penalty_content: str | None = None,
        remarks: str | None = None,
    ) -> PenaltyTier:
        kind = penalty_category or ""
        if (violation_type is not None and violation_type in self.serious_violation_types) or any(
            word in kind for word in self.serious_kinds
        ):
            return PenaltyTier.SERIOUS
        kinds = [part for part in _KIND_SEPARATORS.split(kind) if part]
        if kinds and all(part in self.minor_kinds for part in kinds):
            return PenaltyTier.MINOR
        texts = (penalty_content, penalty_category, remarks)
        if any(marker in text for text in texts if text for marker in self.minor_markers):
            return PenaltyTier.MINOR
        return PenaltyTier.GENERAL
