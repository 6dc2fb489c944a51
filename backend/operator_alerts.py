"""Banners for operators on every console page: a channel registers what only an operator can
fix (the WeChat channel: configuration errors, miniprogram_api/alerts.py), so the console shows
it without importing the channel (issue 15: the core never imports a channel)."""

from __future__ import annotations

from collections.abc import Callable

OperatorAlert = Callable[[], str | None]
_ALERTS: dict[str, OperatorAlert] = {}


def register_operator_alert(alert: OperatorAlert) -> OperatorAlert:
    """Show ``alert()``'s text, when not None, on console pages (registering again replaces)."""
    _ALERTS[f"{alert.__module__}.{alert.__qualname__}"] = alert
    return alert


def operator_alert() -> str | None:
    """The first registered alert that has something to say, else None."""
    for alert in _ALERTS.values():
        text = alert()
        if text:
            return text
    return None
