"""Texts of the subject operations (name discrepancies), shown in the console."""

from __future__ import annotations

DISCREPANCY_RESOLVED = "该名称差异已处理"
ONLY_PLATFORM_STAFF = "只有平台管理员可以处理主体名称差异"
RESOLUTION_LABELS = {"accepted": "已采用新名称", "dismissed": "已保留原名称"}
