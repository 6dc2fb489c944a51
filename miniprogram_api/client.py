"""WeChat API clients, built in one place.

What this adds to wechatpy (LIBRARY-NOTES.md, "wechatpy"):

* ``auto_retry=False``: wechatpy retries a 40001/42001 storm without limit. ``WeChatApi.call``
  retries once, after one token refresh, so a call costs at most two token fetches and then
  fails with a clear ``WeChatError``.
* The access token comes from ``cgi-bin/stable_token`` (``cgi-bin/token`` invalidates the token
  of every other process) and is cached in a shared store: Redis when ``REDIS_URL`` is set, the
  database otherwise. Refreshing takes the store's lock and re-reads the token first, so when
  several gunicorn workers find the token missing at once, one fetches and the others use its
  result; a refresh after a 40001 passes the token that failed, so a worker never replaces a
  token that another worker has just fetched.
* After a 40001/42001 the token is asked for in normal mode first (it renews by itself in its
  last 5 minutes); ``force_refresh`` is used only when normal mode returns the very token that
  failed, within WeChat's budget (20 a day, 30 s apart: getStableAccessToken,
  https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html)
  counted in the shared store for all processes; when it is spent the call fails, logged at
  ERROR and counted in ``credit_wechat_force_refresh_refused_total`` for an operator.
* The base URL is a setting (``WECHAT_API_BASE_URL``): a transport adapter rewrites every
  ``https://api.weixin.qq.com/`` URL wechatpy builds (they are hard-coded in several places), so
  tests and the demo talk to the fake server and nothing else. Under ``ENV=testing`` a base URL
  that is not on loopback is refused outright.

Every call happens before the request writes anything: on SQLite the token store's own short
transactions would otherwise wait for the request's write lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from flask import current_app
from requests.adapters import HTTPAdapter
from sqlalchemy.exc import IntegrityError
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from backend.metrics import WECHAT_FORCE_REFRESH_REFUSED
from backend.pii import PiiCipher, PiiError
from backend.types import local_date, utcnow

from .face import CERT_TYPE_ID_CARD
from .models import WeChatAccessToken

log = logging.getLogger(__name__)

WECHAT_ORIGIN = "https://api.weixin.qq.com/"
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})  # the token is invalid, not the latest, or expired
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45011, 45033})  # system busy, quota and frequency limits
# An idempotent call that met a 5xx from WeChat's gateway or a refused connection is tried once
# more after this pause, so a blip does not fail the citizen's request (timeouts are not retried:
# the citizen would wait twice as long).
GATEWAY_RETRY_PAUSE_SECONDS = 0.3
NOT_SUBSCRIBED = 43101
DAILY_QUOTA = 45009  # the API's daily quota is spent: it resets at midnight, Beijing time
SYSTEM_BUSY = -1
# A read (idempotent call) that meets -1 "system busy" is tried again after these pauses.
BUSY_RETRY_PAUSES = (0.5, 1.5)
TOKEN_MARGIN_SECONDS = 300  # refresh this long before WeChat's expiry, never use a dying token
FORCE_REFRESH_PER_DAY = 20  # stable_token force_refresh: 20 a day (Beijing day), 30 s apart
FORCE_REFRESH_SPACING_SECONDS = 30
_CONFIG_ERRORS = {
    40013: "AppID 无效",
    40125: "AppSecret 无效",
    40164: "服务器 IP 不在微信后台的 IP 白名单中",
    41004: "缺少 AppSecret",
    89503: "调用需要管理员确认",
}

T = TypeVar("T")


class WeChatError(Exception):
    """A WeChat call failed. ``message`` is for operators (logs, the outbox row, the console);
    ``transient`` says whether trying again later may help."""

    def __init__(
        self, message: str, *, errcode: int | None = None, errmsg: str | None = None, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errcode = errcode
        self.errmsg = errmsg
        self.transient = transient


class WeChatNotConfigured(WeChatError):
    pass


# --- the shared token store ------------------------------------------------------------------


@dataclass(frozen=True)
class CachedToken:
    value: str
    expires_at: float  # epoch seconds
    fetched_at: float

    def usable(self, now: float | None = None) -> bool:
        return self.expires_at - (now or time.time()) > TOKEN_MARGIN_SECONDS


class TokenStore(ABC):
    """Where the access token of each AppID lives, shared by every process of the platform."""

    @abstractmethod
    def get(self, appid: str) -> CachedToken | None: ...

    @abstractmethod
    def put(self, appid: str, value: str, expires_in: int) -> CachedToken: ...

    @abstractmethod
    def lock(self, appid: str) -> contextlib.AbstractContextManager[None]:
        """Held while refreshing: one process fetches, the others wait and re-read."""

    @abstractmethod
    def take_force_refresh(self, appid: str, now: dt.datetime | None = None) -> bool:
        """Spend one of the day's forced refreshes; False when the last one was less than 30 s
        ago or 20 were spent on this Beijing day (nothing is spent then)."""


def _encrypt(cipher: PiiCipher, appid: str, value: str) -> str:
    return cipher.encrypt(value, f"wechat.access_token:{appid}")


def _decrypt(cipher: PiiCipher, appid: str, blob: str) -> str | None:
    try:
        return cipher.decrypt(blob, f"wechat.access_token:{appid}")
    except (PiiError, ValueError):
        return None  # a rotated-away key: fetch a new token
    except Exception:  # cryptography's InvalidTag
        return None


class DatabaseTokenStore(TokenStore):
    """The token in the ``wechat_access_token`` table, in short transactions of its own; the lock
    is a lease on the row (compare-and-set), so it works across processes on SQLite and
    PostgreSQL alike and a crashed holder only delays the others until the lease ends."""

    def __init__(
        self, engine: sa.Engine, cipher: PiiCipher, *, lease_seconds: float = 15, wait_seconds: float = 20
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds

    def get(self, appid: str) -> CachedToken | None:
        t = WeChatAccessToken.__table__
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.c.token_encrypted, t.c.expires_at, t.c.fetched_at).where(t.c.appid == appid)
            ).first()
        if row is None or not row.token_encrypted or row.expires_at is None:
            return None
        value = _decrypt(self.cipher, appid, row.token_encrypted)
        if value is None:
            return None
        return CachedToken(value, _epoch(row.expires_at), _epoch(row.fetched_at or row.expires_at))

    def put(self, appid: str, value: str, expires_in: int) -> CachedToken:
        now = utcnow()
        t = WeChatAccessToken.__table__
        self._ensure_row(appid)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t)
                .where(t.c.appid == appid)
                .values(
                    token_encrypted=_encrypt(self.cipher, appid, value),
                    expires_at=now + dt.timedelta(seconds=expires_in),
                    fetched_at=now,
                )
            )
        return CachedToken(value, _epoch(now) + expires_in, _epoch(now))

    def _ensure_row(self, appid: str) -> None:
        t = WeChatAccessToken.__table__
        with self.engine.connect() as conn:
            if conn.execute(sa.select(t.c.appid).where(t.c.appid == appid)).first() is not None:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(t).values(appid=appid))
        except IntegrityError:
            pass  # another process created it first

    def take_force_refresh(self, appid: str, now: dt.datetime | None = None) -> bool:
        t = WeChatAccessToken.__table__
        self._ensure_row(appid)
        now = now or utcnow()
        day = local_date(now).isoformat()
        with self.engine.begin() as conn:
            taken = conn.execute(
                sa.update(t)
                .where(
                    t.c.appid == appid,
                    sa.or_(
                        t.c.force_last_at.is_(None),
                        t.c.force_last_at <= now - dt.timedelta(seconds=FORCE_REFRESH_SPACING_SECONDS),
                    ),
                    sa.or_(t.c.force_day.is_(None), t.c.force_day != day, t.c.force_count < FORCE_REFRESH_PER_DAY),
                )
                .values(
                    force_count=sa.case((t.c.force_day == day, t.c.force_count + 1), else_=1),
                    force_day=day,
                    force_last_at=now,
                )
            ).rowcount
        return taken == 1

    @contextlib.contextmanager
    def lock(self, appid: str) -> Iterator[None]:
        t = WeChatAccessToken.__table__
        self._ensure_row(appid)
        owner = secrets.token_hex(16)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            now = utcnow()
            with self.engine.begin() as conn:
                taken = conn.execute(
                    sa.update(t)
                    .where(t.c.appid == appid, sa.or_(t.c.lock_owner.is_(None), t.c.lock_until < now))
                    .values(lock_owner=owner, lock_until=now + dt.timedelta(seconds=self.lease_seconds))
                ).rowcount
            if taken == 1:
                break
            if time.monotonic() > deadline:
                raise WeChatError("等待其他进程刷新微信 access_token 超时", transient=True)
            time.sleep(0.05)
        try:
            yield
        finally:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.update(t)
                    .where(t.c.appid == appid, t.c.lock_owner == owner)
                    .values(lock_owner=None, lock_until=None)
                )


# One atomic step (a Lua script runs alone in Redis): refuse within the spacing or past the
# day's count, else record the time and count one.
_TAKE_FORCE_REFRESH = """
local last = redis.call('GET', KEYS[1])
if last and tonumber(ARGV[1]) - tonumber(last) < tonumber(ARGV[2]) then return 0 end
local count = tonumber(redis.call('GET', KEYS[2]) or '0')
if count >= tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', 172800)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 172800)
return 1
"""


class RedisTokenStore(TokenStore):
    """The token in Redis (encrypted, with a TTL) and a Redis lock (``SET NX PX`` with a token)."""

    def __init__(
        self, redis_client: Any, cipher: PiiCipher, *, prefix: str = "credit:wechat:", lease_seconds: float = 15
    ) -> None:
        self.redis = redis_client
        self.cipher = cipher
        self.prefix = prefix
        self.lease_seconds = lease_seconds

    def _key(self, appid: str) -> str:
        return f"{self.prefix}token:{appid}"

    def get(self, appid: str) -> CachedToken | None:
        raw = self.redis.get(self._key(appid))
        if not raw:
            return None
        data = json.loads(raw)
        value = _decrypt(self.cipher, appid, data["token"])
        if value is None:
            return None
        return CachedToken(value, float(data["expires_at"]), float(data["fetched_at"]))

    def put(self, appid: str, value: str, expires_in: int) -> CachedToken:
        now = time.time()
        token = CachedToken(value, now + expires_in, now)
        payload = {"token": _encrypt(self.cipher, appid, value), "expires_at": token.expires_at, "fetched_at": now}
        self.redis.set(self._key(appid), json.dumps(payload), ex=max(int(expires_in), 1))
        return token

    def take_force_refresh(self, appid: str, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        keys = [f"{self.prefix}force-last:{appid}", f"{self.prefix}force-count:{appid}:{local_date(now).isoformat()}"]
        args = [_epoch(now), FORCE_REFRESH_SPACING_SECONDS, FORCE_REFRESH_PER_DAY]
        return int(self.redis.eval(_TAKE_FORCE_REFRESH, len(keys), *keys, *args)) == 1

    @contextlib.contextmanager
    def lock(self, appid: str) -> Iterator[None]:
        lock = self.redis.lock(
            f"{self.prefix}lock:{appid}", timeout=self.lease_seconds, blocking_timeout=self.lease_seconds + 5
        )
        if not lock.acquire():
            raise WeChatError("等待其他进程刷新微信 access_token 超时", transient=True)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # the lease may have lapsed: nothing to release
                lock.release()


class FailoverTokenStore(TokenStore):
    """Redis first; while Redis cannot be reached, the database store (``DatabaseTokenStore``),
    so a Redis outage costs at most an extra token fetch instead of failing every WeChat call.
    Both stores hold the same kind of token (from ``stable_token``), so the switch is safe."""

    def __init__(self, primary: RedisTokenStore, fallback: TokenStore) -> None:
        self.primary = primary
        self.fallback = fallback
        self.redis = primary.redis  # the OA nonce check uses it (and falls back the same way)

    def _failed(self, exc: Exception) -> None:
        log.warning("WeChat token store: Redis unavailable (%s); using the database", type(exc).__name__)

    def get(self, appid: str) -> CachedToken | None:
        try:
            return self.primary.get(appid)
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return self.fallback.get(appid)

    def put(self, appid: str, value: str, expires_in: int) -> CachedToken:
        try:
            return self.primary.put(appid, value, expires_in)
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return self.fallback.put(appid, value, expires_in)

    def take_force_refresh(self, appid: str, now: dt.datetime | None = None) -> bool:
        try:
            return self.primary.take_force_refresh(appid, now)
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return self.fallback.take_force_refresh(appid, now)

    @contextlib.contextmanager
    def lock(self, appid: str) -> Iterator[None]:
        try:
            held = self.primary.lock(appid)
            held.__enter__()
        except REDIS_ERRORS as exc:
            self._failed(exc)
            with self.fallback.lock(appid):
                yield
            return
        try:
            yield
        finally:
            held.__exit__(None, None, None)


def _redis_errors() -> tuple[type[Exception], ...]:
    try:
        import redis
    except ImportError:  # pragma: no cover - redis is a dependency; without it no Redis store exists
        return (OSError,)
    return (redis.RedisError, OSError)


REDIS_ERRORS = _redis_errors()


def _epoch(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.UTC).timestamp()


# --- the clients ---------------------------------------------------------------------------


class _RewriteAdapter(HTTPAdapter):
    """Sends every request for WeChat's origin to the configured base URL instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__(max_retries=0)
        self.base_url = base_url.rstrip("/") + "/"

    def send(self, request, **kwargs):
        if request.url.startswith(WECHAT_ORIGIN):
            request.url = self.base_url + request.url[len(WECHAT_ORIGIN) :]
        return super().send(request, **kwargs)


class _PlatformClient(WeChatClient):
    """wechatpy's client with its token taken from our shared store."""

    def __init__(self, api: WeChatApi, appid: str, secret: str, timeout: float) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self._api = api

    @property
    def access_token(self) -> str:
        return self._api.current_token()

    def fetch_access_token(self) -> dict:
        value = self._api.refresh_token(stale=None)
        return {"access_token": value}


def _gateway_failure(exc: Exception) -> bool:
    if isinstance(exc, WeChatClientException):
        return exc.errcode is None  # wechatpy's wrapping of an HTTP error status
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code >= 500
    return isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout)


class WeChatApi:
    """One AppID's calls: token handling, one bounded retry, errors translated to WeChatError."""

    def __init__(self, appid: str, secret: str, base_url: str, store: TokenStore, *, timeout: float = 5) -> None:
        if not appid or not secret:
            raise WeChatNotConfigured("微信 AppID 或 AppSecret 未配置")
        self.appid = appid
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.timeout = timeout
        self.client = _PlatformClient(self, appid, secret, timeout)
        adapter = _RewriteAdapter(self.base_url)
        self.client._http.mount(WECHAT_ORIGIN, adapter)
        self.client._http.mount(self.base_url + "/", adapter)

    # Tokens.

    def current_token(self) -> str:
        cached = self.store.get(self.appid)
        if cached is not None and cached.usable():
            return cached.value
        return self.refresh_token(stale=None)

    def refresh_token(self, stale: str | None) -> str:
        """A usable token: the one in the store unless it is ``stale`` (it just failed), else
        one from ``stable_token`` in normal mode; forced only when normal mode returns the
        ``stale`` token again, and only within the shared budget."""
        with self.store.lock(self.appid):
            cached = self.store.get(self.appid)
            if cached is not None and cached.usable() and cached.value != stale:
                return cached.value  # another process refreshed while we waited for the lock
            value, expires_in = self._stable_token(force=False)
            if stale is not None and value == stale:
                if not self.store.take_force_refresh(self.appid):
                    WECHAT_FORCE_REFRESH_REFUSED.labels(appid=self.appid).inc()
                    log.error(
                        "WeChat AppID %s: stable_token returns the token WeChat refuses and the "
                        "force_refresh budget (%s a day, %s s apart) is spent; check the AppSecret "
                        "and whether the token leaked",
                        self.appid,
                        FORCE_REFRESH_PER_DAY,
                        FORCE_REFRESH_SPACING_SECONDS,
                    )
                    raise WeChatError(
                        f"微信拒绝了 AppID {self.appid} 的 access_token，且强制刷新额度（每天 "
                        f"{FORCE_REFRESH_PER_DAY} 次、间隔 {FORCE_REFRESH_SPACING_SECONDS} 秒）已用完：请检查 "
                        "AppSecret 是否被重置、token 是否泄露",
                        errcode=40001,
                        transient=True,
                    )
                value, expires_in = self._stable_token(force=True)
            return self.store.put(self.appid, value, expires_in).value

    def _stable_token(self, *, force: bool) -> tuple[str, int]:
        result = self._post_json(
            "cgi-bin/stable_token",
            {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret, "force_refresh": force},
        )
        if result.get("errcode"):
            raise self._token_error(int(result["errcode"]), str(result.get("errmsg", "")))
        value = result.get("access_token")
        if not isinstance(value, str) or not value:
            raise WeChatError("微信 stable_token 接口未返回 access_token", transient=True)
        return value, int(result.get("expires_in") or 7200)

    def _token_error(self, errcode: int, errmsg: str) -> WeChatError:
        what = _CONFIG_ERRORS.get(errcode)
        if what:
            return WeChatError(
                f"获取微信 access_token 失败：{what}（errcode {errcode}），请检查 AppID {self.appid} 的配置",
                errcode=errcode,
                errmsg=errmsg,
            )
        return WeChatError(
            f"获取微信 access_token 失败（errcode {errcode}：{errmsg}）",
            errcode=errcode,
            errmsg=errmsg,
            transient=errcode in TRANSIENT_ERRCODES,
        )

    def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        def post() -> dict[str, Any]:
            response = self.client._http.post(
                f"{WECHAT_ORIGIN}{path}",
                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
            response.raise_for_status()
            return response.json()

        try:
            return self._once_more_after_gateway_error(post, path)
        except requests.Timeout as exc:
            raise WeChatError(f"微信接口 {path} 超时（{self.timeout} 秒）", transient=True) from exc
        except (requests.RequestException, ValueError) as exc:
            raise WeChatError(f"微信接口 {path} 无法访问：{type(exc).__name__}", transient=True) from exc

    # Calls.

    def _once_more_after_gateway_error(self, fn: Callable[[], T], what: str) -> T:
        """``fn`` (idempotent), tried a second time after a short pause if WeChat's gateway answered
        5xx or refused the connection."""
        try:
            return fn()
        except (WeChatClientException, requests.RequestException) as exc:
            if not _gateway_failure(exc):
                raise
            log.warning("WeChat %s: gateway error (%s), retrying once", what, type(exc).__name__)
        time.sleep(GATEWAY_RETRY_PAUSE_SECONDS)
        return fn()

    def _again_while_busy(self, fn: Callable[[], T], what: str) -> T:
        """``fn`` (idempotent), tried again after each pause of ``BUSY_RETRY_PAUSES`` while WeChat
        answers -1 (system busy); the last answer is the caller's."""
        for pause in BUSY_RETRY_PAUSES:
            try:
                return fn()
            except WeChatClientException as exc:
                if exc.errcode != SYSTEM_BUSY:
                    raise
                log.warning("WeChat %s: system busy (-1), trying again in %.1f s", what, pause)
            time.sleep(pause)
        return fn()

    def call(self, fn: Callable[[], T], what: str, *, idempotent: bool = False) -> T:
        """Run ``fn`` (a wechatpy call); on a token error refresh once and retry once. An
        ``idempotent`` call (a read) is also tried once more after a gateway error; a send is not,
        since the first one may have been delivered (the outbox retries it under its key)."""
        if idempotent:
            once = fn
            fn = lambda: self._again_while_busy(lambda: self._once_more_after_gateway_error(once, what), what)  # noqa: E731
        used = self.current_token()
        try:
            return fn()
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise self._translate(exc, what) from exc
        except requests.RequestException as exc:
            raise self._network(exc, what) from exc
        self.refresh_token(stale=used)
        try:
            return fn()
        except WeChatClientException as exc:
            if exc.errcode in TOKEN_ERRCODES:
                raise WeChatError(
                    f"微信拒绝了刚刷新的 access_token（{what}，errcode {exc.errcode}）：已停止重试。请检查 AppID "
                    f"{self.appid} 的 AppSecret 是否刚被重置、token 是否泄露（stable_token 的 token 与 "
                    "cgi-bin/token 的互不影响，其他程序调用 cgi-bin/token 不会使它失效）",
                    errcode=exc.errcode,
                    errmsg=str(exc.errmsg),
                    transient=True,
                ) from exc
            raise self._translate(exc, what) from exc
        except requests.RequestException as exc:
            raise self._network(exc, what) from exc

    def _translate(self, exc: WeChatClientException, what: str) -> WeChatError:
        code = exc.errcode
        if code is None:  # an HTTP error status from the server
            return WeChatError(f"微信接口 {what} 返回 HTTP 错误", transient=True)
        return WeChatError(
            f"微信接口 {what} 返回错误 errcode {code}：{exc.errmsg}",
            errcode=int(code),
            errmsg=str(exc.errmsg),
            transient=int(code) in TRANSIENT_ERRCODES,
        )

    def _network(self, exc: requests.RequestException, what: str) -> WeChatError:
        if isinstance(exc, requests.Timeout):
            return WeChatError(f"微信接口 {what} 超时（{self.timeout} 秒）", transient=True)
        return WeChatError(f"微信接口 {what} 无法访问：{type(exc).__name__}", transient=True)

    # The endpoints the platform uses.

    def code_to_session(self, code: str) -> dict[str, Any]:
        """``wx.login`` code -> openid and session_key. The secret authenticates this call, so it
        is made without an access token (wechatpy's ``wxa.code_to_session`` fetches one first):
        list-of-pairs params keep wechatpy from adding ``access_token``."""
        params = [
            ("appid", self.appid),
            ("secret", self.secret),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ]
        try:
            return self.client.get("sns/jscode2session", params=params, api_base_url=WECHAT_ORIGIN)
        except WeChatClientException as exc:
            raise self._translate(exc, "jscode2session") from exc
        except requests.RequestException as exc:
            raise self._network(exc, "jscode2session") from exc

    def face_get_verify_id(self, out_seq_no: str, cert_name: str, cert_no: str, openid: str) -> dict[str, Any]:
        """Face verification 2.0, getVerifyId
        (https://developers.weixin.qq.com/miniprogram/dev/server/API/face/api_getverifyid):
        the claimed identity and the user's openid -> ``verify_id`` for ``wx.requestFacialVerify``
        and ``expires_in`` (3600 s). Not retried after a gateway error: the first call may have
        used ``out_seq_no``, which WeChat accepts once per AppID."""
        body = {
            "out_seq_no": out_seq_no,
            "cert_info": {"cert_type": CERT_TYPE_ID_CARD, "cert_name": cert_name, "cert_no": cert_no},
            "openid": openid,
        }
        return self.call(
            lambda: self.client.post("cityservice/face/identify/getverifyid", data=body, api_base_url=WECHAT_ORIGIN),
            "face/identify/getverifyid",
        )

    def face_query_verify_info(self, verify_id: str, out_seq_no: str, cert_hash: str, openid: str) -> dict[str, Any]:
        """Face verification 2.0, queryVerifyInfo
        (https://developers.weixin.qq.com/miniprogram/dev/server/API/face/api_queryverifyinfo):
        the scan's ``verify_ret`` (10000 = passed); WeChat answers an errcode instead when
        out_seq_no, cert_hash or openid differ from getVerifyId's. A read: retried once after a
        gateway error."""
        body = {"verify_id": verify_id, "out_seq_no": out_seq_no, "cert_hash": cert_hash, "openid": openid}
        return self.call(
            lambda: self.client.post(
                "cityservice/face/identify/queryverifyinfo", data=body, api_base_url=WECHAT_ORIGIN
            ),
            "face/identify/queryverifyinfo",
            idempotent=True,
        )

    def send_subscribe_message(
        self,
        openid: str,
        template_id: str,
        data: dict[str, str],
        *,
        page: str | None = None,
        state: str = "formal",
        lang: str = "zh_CN",
    ) -> dict[str, Any]:
        # Posted directly: wechatpy's send_subscribe_message cannot set miniprogram_state/lang.
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
            "miniprogram_state": state,
            "lang": lang,
        }
        if page:
            body["page"] = page
        return self.call(lambda: self.client.post("message/subscribe/send", data=body), "message/subscribe/send")

    def api_domain_ip(self) -> list[str]:
        """The addresses of WeChat's API servers (``cgi-bin/get_api_domain_ip``, a read): a check
        that the AppID, secret and IP allow-list work."""
        result = self.call(lambda: self.client.get("get_api_domain_ip"), "get_api_domain_ip", idempotent=True)
        return list(result.get("ip_list") or [])

    def send_text(self, openid: str, content: str) -> dict[str, Any]:
        return self.call(lambda: self.client.message.send_text(openid, content), "message/custom/send")

    def create_menu(self, menu: dict[str, Any]) -> dict[str, Any]:
        return self.call(lambda: self.client.menu.create(menu), "menu/create")


# --- built from the app's settings -----------------------------------------------------------

_CLIENTS_KEY = "wechat_clients"


def token_store() -> TokenStore:
    app = current_app
    store = app.extensions.get("wechat_token_store")
    if store is None:
        settings = app.extensions["settings"]
        if settings.REDIS_URL:
            import redis

            from backend.extensions import db

            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=2)
            store = FailoverTokenStore(
                RedisTokenStore(client, app.extensions["pii"]), DatabaseTokenStore(db.engine, app.extensions["pii"])
            )
        else:
            from backend.extensions import db

            store = DatabaseTokenStore(db.engine, app.extensions["pii"])
        app.extensions["wechat_token_store"] = store
    return store


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (the test environment talks to a fake WeChat only)."""
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def _api(kind: str) -> WeChatApi:
    settings = current_app.extensions["settings"]
    appid = getattr(settings, f"WECHAT_{kind}_APPID")
    secret = getattr(settings, f"WECHAT_{kind}_SECRET")
    if not appid or not secret:
        raise WeChatNotConfigured(f"WECHAT_{kind}_APPID / WECHAT_{kind}_SECRET 未配置")
    base = settings.WECHAT_API_BASE_URL
    if settings.ENV == "testing" and not is_loopback_url(base):
        raise WeChatNotConfigured("测试环境只能访问本机的模拟微信服务器（WECHAT_API_BASE_URL）")
    clients: dict[tuple, WeChatApi] = current_app.extensions.setdefault(_CLIENTS_KEY, {})
    key = (appid, secret, base, settings.WECHAT_TIMEOUT_SECONDS)
    api = clients.get(key)
    if api is None:
        api = WeChatApi(appid, secret, base, token_store(), timeout=settings.WECHAT_TIMEOUT_SECONDS)
        clients[key] = api
    return api


def mp_api() -> WeChatApi:
    """The mini-program's client."""
    return _api("MP")


def oa_api() -> WeChatApi:
    """The official account's client."""
    return _api("OA")
