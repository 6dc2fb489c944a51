"""Operator alerts for WeChat answers that only an operator can fix.

48001 (this AppID is not authorised for the API: face verification 2.0 needs WeChat's approval),
40125 (wrong AppSecret), 40164 (server IP not on the allow-list) and the like are not the citizen's
doing: telling them "请重新核身" sends them round in circles. Such an error gets a neutral 503 for
the citizen and, for operators, a log line at ERROR, the counter
``credit_wechat_config_errors_total{errcode}`` on /metrics and a banner on every console page
while the last one is less than ``ALERT_WINDOW`` old (kept in ``wechat_config_error``, so every
process shows it).
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from backend.extensions import db
from backend.metrics import WECHAT_CONFIG_ERRORS
from backend.operator_alerts import register_operator_alert
from backend.types import utcnow

from . import messages as msg
from .client import WeChatError, WeChatNotConfigured
from .models import WeChatConfigError

log = logging.getLogger(__name__)

ALERT_WINDOW = dt.timedelta(hours=1)
# WeChat's global return codes an operator must act on (官方文档「全局返回码」).
CONFIG_ERRCODES = {
    40013: "AppID 无效",
    40125: "AppSecret 无效",
    40164: "服务器 IP 不在微信后台的 IP 白名单中",
    41002: "缺少 AppID",
    41004: "缺少 AppSecret",
    48001: "该 AppID 未获得此接口的权限",
    89503: "调用需要管理员确认",
}
NOT_CONFIGURED = 0  # errcode label for settings missing on our side (no call was made)


def is_config_error(exc: WeChatError) -> bool:
    return isinstance(exc, WeChatNotConfigured) or exc.errcode in CONFIG_ERRCODES


def record_config_error(exc: WeChatError, api: str, *, now: dt.datetime | None = None) -> WeChatConfigError:
    """Log, count and keep one configuration error (flush; the caller commits)."""
    errcode = exc.errcode if exc.errcode is not None else NOT_CONFIGURED
    log.error("WeChat configuration error on %s (errcode %s): %s", api, errcode, exc.message)
    WECHAT_CONFIG_ERRORS.labels(str(errcode)).inc()
    row = WeChatConfigError(errcode=errcode, api=api[:64], occurred_at=now or utcnow())
    db.session.add(row)
    db.session.flush()
    return row


def config_alert(now: dt.datetime | None = None) -> str | None:
    """The console banner while the last configuration error is recent, else None."""
    now = now or utcnow()
    row = db.session.scalar(
        sa.select(WeChatConfigError)
        .where(WeChatConfigError.occurred_at >= now - ALERT_WINDOW)
        .order_by(WeChatConfigError.occurred_at.desc(), WeChatConfigError.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    what = CONFIG_ERRCODES.get(row.errcode, msg.WECHAT_CONFIG_MISSING)
    at = (row.occurred_at + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    return msg.WECHAT_CONFIG_ALERT.format(api=row.api, errcode=row.errcode, what=what, at=at)


def register() -> None:
    register_operator_alert(config_alert)
