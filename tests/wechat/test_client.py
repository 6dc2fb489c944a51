"""The WeChat client: stable_token in a shared store, one bounded retry, clear errors."""

from __future__ import annotations

import os
import threading

import pytest

from backend.extensions import db
from miniprogram_api.client import (
    DatabaseTokenStore,
    RedisTokenStore,
    WeChatApi,
    WeChatError,
    WeChatNotConfigured,
    mp_api,
)
from tests.wechat.conftest import MP_APPID, MP_SECRET

SEND = "cgi-bin/message/subscribe/send"
DATA = {"thing1": "测试"}


def _send(api: WeChatApi, openid: str = "o-user"):
    return api.send_subscribe_message(openid, "TPL", DATA)


def test_token_is_fetched_once_and_reused(fake):
    fake.accept_all_subscriptions = True
    api = mp_api()
    _send(api)
    _send(api)
    assert fake.fetch_count(MP_APPID) == 1
    assert fake.token_fetches[0]["endpoint"] == "stable_token"  # never cgi-bin/token
    assert len(fake.subscribe_messages) == 2


def test_40001_forever_costs_one_forced_fetch_and_a_clear_error(fake):
    fake.accept_all_subscriptions = True
    fake.fail(SEND, 40001)
    api = mp_api()
    with pytest.raises(WeChatError) as info:
        _send(api)
    # normal mode (first token), normal mode again (the same token comes back), then forced
    assert [f["force_refresh"] for f in fake.token_fetches] == [False, False, True]
    assert info.value.errcode == 40001
    assert "access_token" in info.value.message and "已停止重试" in info.value.message
    assert MP_APPID in info.value.message
    assert "其他程序在用" not in info.value.message  # stable tokens are not touched by cgi-bin/token
    sends = [r for r in fake.requests if r["path"] == SEND]
    assert len(sends) == 2  # the call and its one retry
    # The next call finds the force_refresh budget spent (30 s apart): no second forced fetch.
    with pytest.raises(WeChatError) as info:
        _send(api)
    assert "强制刷新额度" in info.value.message
    assert [f["force_refresh"] for f in fake.token_fetches].count(True) == 1
    assert len([r for r in fake.requests if r["path"] == SEND]) == 3


def test_token_endpoint_answering_40001_forever_is_one_fetch(fake):
    fake.fail("cgi-bin/stable_token", 40001)
    with pytest.raises(WeChatError) as info:
        _send(mp_api())
    assert fake.fetch_count() == 0  # the fake refused before issuing
    assert len([r for r in fake.requests if r["path"] == "cgi-bin/stable_token"]) == 1
    assert "获取微信 access_token 失败" in info.value.message


def test_wrong_secret_is_named(fake, wechat_settings, monkeypatch):
    monkeypatch.setattr(wechat_settings, "WECHAT_MP_SECRET", "wrong")
    with pytest.raises(WeChatError) as info:
        _send(mp_api())
    assert info.value.errcode == 40125
    assert "AppSecret 无效" in info.value.message
    assert info.value.transient is False


def test_one_40001_is_healed_in_normal_mode(fake):
    fake.accept_all_subscriptions = True
    api = mp_api()
    _send(api)
    fake.invalidate_tokens()  # e.g. the AppSecret was reset: normal mode issues a new token
    _send(api)
    assert [f["force_refresh"] for f in fake.token_fetches] == [False, False]
    assert len(fake.subscribe_messages) == 2


def test_expired_token_42001_is_refreshed(fake):
    fake.accept_all_subscriptions = True
    api = mp_api()
    _send(api)
    fake.expire_tokens()
    _send(api)
    assert fake.fetch_count() == 2


def test_rate_limit_and_timeout_are_transient(fake, wechat_settings, monkeypatch):
    fake.accept_all_subscriptions = True
    fake.fail(SEND, 45009, times=1)
    with pytest.raises(WeChatError) as info:
        _send(mp_api())
    assert info.value.errcode == 45009 and info.value.transient
    monkeypatch.setattr(wechat_settings, "WECHAT_TIMEOUT_SECONDS", 0.3)
    fake.delay(SEND, 1.0, times=1)
    with pytest.raises(WeChatError) as info:
        _send(mp_api())
    assert info.value.transient and "超时" in info.value.message


def test_not_subscribed_is_reported_as_43101(fake):
    with pytest.raises(WeChatError) as info:
        _send(mp_api())
    assert info.value.errcode == 43101 and not info.value.transient


def test_code_to_session_needs_no_access_token(fake):
    fake.add_login_code("abc123", "o-login")
    result = mp_api().code_to_session("abc123")
    assert result["openid"] == "o-login"
    assert fake.fetch_count() == 0
    with pytest.raises(WeChatError) as info:
        mp_api().code_to_session("abc123")
    assert info.value.errcode == 40163


def test_testing_refuses_a_base_url_off_loopback(wechat_settings, monkeypatch):
    monkeypatch.setattr(wechat_settings, "WECHAT_API_BASE_URL", "https://api.weixin.qq.com")
    with pytest.raises(WeChatNotConfigured):
        mp_api()


def test_unconfigured_channel(wechat_settings, monkeypatch):
    monkeypatch.setattr(wechat_settings, "WECHAT_MP_SECRET", "")
    with pytest.raises(WeChatNotConfigured):
        mp_api()


def test_every_wechat_url_goes_to_the_configured_base(fake):
    """wechatpy's own hard-coded URLs (menu, custom messages) reach the fake too."""
    from miniprogram_api.client import oa_api

    oa_api().create_menu({"button": [{"type": "click", "name": "核验", "key": "VERIFY_HELP"}]})
    oa_api().send_text("o-user", "你好")
    assert fake.menus and fake.custom_messages[0]["text"]["content"] == "你好"


def _concurrent_refresh(fake, make_store, workers: int = 4) -> list[str]:
    """Workers with their own clients (as separate gunicorn processes would have) and one
    shared store find no token at the same moment."""
    fake.delay("cgi-bin/stable_token", 0.3, times=1)  # the first fetch is slow: the others pile up
    barrier = threading.Barrier(workers)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def work():
        try:
            api = WeChatApi(MP_APPID, MP_SECRET, fake.base_url, make_store(), timeout=5)
            barrier.wait()
            tokens.append(api.current_token())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return tokens


def test_two_workers_refreshing_at_once_fetch_one_token_database(app, fake):
    engine, pii = db.engine, app.extensions["pii"]
    tokens = _concurrent_refresh(fake, lambda: DatabaseTokenStore(engine, pii))
    assert len(tokens) == 4 and len(set(tokens)) == 1
    assert fake.fetch_count() == 1


def _redis():
    import redis

    client = redis.Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise  # CI starts Redis: a missing one must fail there, not skip
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    return client


def test_two_workers_refreshing_at_once_fetch_one_token_redis(app, fake):
    client = _redis()
    prefix = f"test:{os.getpid()}:{threading.get_ident()}:"
    try:
        tokens = _concurrent_refresh(fake, lambda: RedisTokenStore(client, app.extensions["pii"], prefix=prefix))
        assert len(tokens) == 4 and len(set(tokens)) == 1
        assert fake.fetch_count() == 1
        # Stored encrypted, with the token's lifetime.
        raw = client.get(f"{prefix}token:{MP_APPID}")
        assert tokens[0].encode() not in raw
        assert 0 < client.ttl(f"{prefix}token:{MP_APPID}") <= 7200
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def test_database_store_keeps_the_token_encrypted(app, fake):
    from miniprogram_api.models import WeChatAccessToken

    token = mp_api().current_token()
    row = db.session.get(WeChatAccessToken, MP_APPID)
    assert row is not None and token not in (row.token_encrypted or "")
    assert row.lock_owner is None  # the refresh released its lock
