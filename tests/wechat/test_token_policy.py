"""The access-token policy WeChat documents for stable_token: normal mode first, force_refresh
only when normal mode returns the token WeChat refuses, within a budget (20 a day, 30 s apart)
shared by every process; the fake keeps stable tokens apart from cgi-bin/token's."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time

import pytest
import requests

from backend.extensions import db
from backend.metrics import WECHAT_FORCE_REFRESH_REFUSED
from miniprogram_api.client import (
    DatabaseTokenStore,
    FailoverTokenStore,
    RedisTokenStore,
    WeChatApi,
    WeChatError,
    mp_api,
)
from tests.wechat.conftest import MP_APPID, MP_SECRET

SEND = "cgi-bin/message/subscribe/send"


def _send(api: WeChatApi):
    return api.send_subscribe_message("o-user", "TPL", {"thing1": "测试"})


def _stable(fake, *, force: bool = False, secret: str = MP_SECRET) -> dict:
    body = {"grant_type": "client_credential", "appid": MP_APPID, "secret": secret, "force_refresh": force}
    return requests.post(f"{fake.base_url}/cgi-bin/stable_token", json=body, timeout=5).json()


def _refused(appid: str = MP_APPID) -> float:
    return WECHAT_FORCE_REFRESH_REFUSED.labels(appid=appid)._value.get()


def test_a_refused_token_is_asked_again_in_normal_mode_then_forced_once(fake, caplog):
    """stable_token (normal) -> T1; send with T1 -> 40001; stable_token (normal) -> T1 again;
    stable_token (force_refresh) -> T2; send with T2 -> ok. A second refusal 1 s later: normal
    mode -> T2 again, the budget says 30 s apart: no forced fetch, an ERROR and a metric."""
    fake.accept_all_subscriptions = True
    api = mp_api()
    first = api.current_token()
    fake.reject_token(first)
    _send(api)
    assert [f["force_refresh"] for f in fake.token_fetches] == [False, False, True]
    second = fake.stable_token(MP_APPID)
    assert second != first and api.current_token() == second
    assert len(fake.subscribe_messages) == 1

    fake.reject_token(second)
    before = _refused()
    with caplog.at_level(logging.ERROR, logger="miniprogram_api.client"), pytest.raises(WeChatError) as info:
        _send(api)
    assert [f["force_refresh"] for f in fake.token_fetches] == [False, False, True, False]
    assert info.value.transient and "强制刷新额度" in info.value.message
    assert _refused() == before + 1
    assert any(r.levelno == logging.ERROR and "force_refresh budget" in r.getMessage() for r in caplog.records)


def test_two_processes_share_one_forced_refresh(app, fake):
    """Two workers (each its own client, one store) meet the same refused token: one forced
    fetch in all; the other gets the new token from the store."""
    engine, pii = db.engine, app.extensions["pii"]
    fake.accept_all_subscriptions = True
    base = fake.base_url
    apis = [WeChatApi(MP_APPID, MP_SECRET, base, DatabaseTokenStore(engine, pii)) for _ in range(2)]
    token = apis[0].current_token()
    assert apis[1].current_token() == token
    fake.reject_token(token)
    errors: list[Exception] = []

    def work(api: WeChatApi) -> None:
        try:
            _send(api)
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(api,)) for api in apis]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert [f["force_refresh"] for f in fake.token_fetches].count(True) == 1
    assert len(fake.subscribe_messages) == 2


def _budget(store, appid: str) -> list[bool]:
    start = dt.datetime(2026, 12, 3, 1, 0, 0)  # 09:00 in Beijing
    taken = [store.take_force_refresh(appid, start)]
    taken.append(store.take_force_refresh(appid, start + dt.timedelta(seconds=10)))  # < 30 s
    moment = start
    for _ in range(20):
        moment += dt.timedelta(seconds=31)
        taken.append(store.take_force_refresh(appid, moment))
    # 16:00 UTC is midnight in Beijing: a new day's budget.
    taken.append(store.take_force_refresh(appid, dt.datetime(2026, 12, 3, 16, 0, 1)))
    return taken


EXPECTED = [True, False] + [True] * 19 + [False, True]


def test_database_budget_is_20_a_beijing_day_30_seconds_apart(app):
    store = DatabaseTokenStore(db.engine, app.extensions["pii"])
    assert _budget(store, "wx-budget-db") == EXPECTED


def _redis():
    import redis

    client = redis.Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    return client


def test_redis_budget_is_the_same(app):
    client = _redis()
    prefix = f"test:{os.getpid()}:budget:"
    try:
        assert _budget(RedisTokenStore(client, app.extensions["pii"], prefix=prefix), "wx-budget-redis") == EXPECTED
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def test_failover_store_counts_in_the_database_while_redis_is_down(app):
    import redis

    class Dead:
        """Redis down: every command fails at once (a real client would retry connecting)."""

        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise redis.ConnectionError("down")

            return fail

    dead = Dead()
    db_store = DatabaseTokenStore(db.engine, app.extensions["pii"])
    store = FailoverTokenStore(RedisTokenStore(dead, app.extensions["pii"]), db_store)
    assert _budget(store, "wx-budget-failover") == EXPECTED


def test_the_fake_keeps_stable_tokens_apart_and_renews_them_in_the_last_5_minutes(fake):
    first = _stable(fake)["access_token"]
    assert _stable(fake)["access_token"] == first  # normal mode: the same token
    # cgi-bin/token issues tokens of its own and leaves the stable one valid.
    plain = requests.get(
        f"{fake.base_url}/cgi-bin/token",
        params={"grant_type": "client_credential", "appid": MP_APPID, "secret": MP_SECRET},
        timeout=5,
    ).json()["access_token"]
    assert plain != first and _stable(fake)["access_token"] == first
    fake.accept_all_subscriptions = True
    for token in (first, plain):
        answer = requests.post(
            f"{fake.base_url}/{SEND}",
            params={"access_token": token},
            json={"touser": "o", "template_id": "TPL", "data": {"thing1": {"value": "x"}}},
            timeout=5,
        ).json()
        assert answer["errcode"] == 0
    # In its last 5 minutes normal mode renews it; the old one works until it expires.
    fake.age_stable_token(MP_APPID, 200)
    renewed = _stable(fake)
    assert renewed["access_token"] != first and renewed["expires_in"] == 7200
    assert first in {t.value for t in fake.stable_tokens[MP_APPID]}


def test_the_fake_limits_force_refresh(fake):
    forced = _stable(fake, force=True)["access_token"]
    # 30 s apart: sooner, WeChat does not refresh and answers the current token.
    assert _stable(fake, force=True)["access_token"] == forced
    fake.forced_at[MP_APPID] = [time.time() - 3600 + 31 * i for i in range(20)]
    assert _stable(fake, force=True)["errcode"] == 45009  # 20 a day
    assert _stable(fake)["access_token"]  # normal mode still answers
