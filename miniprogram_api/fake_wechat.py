"""A fake WeChat API server on loopback, for the tests and the demo (never the real servers).

It answers the endpoints the platform uses the way WeChat does, including its error codes:

* ``GET cgi-bin/token`` (every call issues a new token and invalidates the previous one, which
  is why several processes fetching their own tokens break each other) and
  ``POST cgi-bin/stable_token``, whose tokens live in a slot of their own, untouched by
  ``cgi-bin/token`` (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html):
  normal mode returns the current stable token and renews it only in its last 5 minutes (the
  old one stays valid until it expires); ``force_refresh`` replaces it at once, at most 20 times
  a day (45009) and 30 s apart (a forced call sooner answers the current token unchanged);
* ``GET sns/jscode2session`` (a ``wx.login`` code is single use: 40029 unknown, 40163 used);
* face verification 2.0 (``POST cityservice/face/identify/getverifyid`` and
  ``POST cityservice/face/identify/queryverifyinfo``, see ``_face_getverifyid``); the retired 1.0
  ``getinfo`` is not served (404), as it is no longer on WeChat's side;
* ``POST cgi-bin/message/subscribe/send``
  (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html):
  one-time subscriptions are consumed (43101 when the user has none); the template must exist
  (40037) and the data keys be exactly its keywords, each value within its type's limits (47003);
  the page must be one of the mini-program's pages (41030);
* ``POST cgi-bin/message/custom/send``, ``POST cgi-bin/menu/create`` and
  ``GET cgi-bin/get_api_domain_ip`` (a read, for the -1 retry).

Calls with an access token check it: 41001 missing, 40001 not the current one, 42001 expired.
``fail()`` makes an endpoint answer an error code (40001, 45009, -1 ...) a number of times or
forever; ``delay()`` makes it slow (client timeouts). Every request is recorded.

For the demo, ``/__fake__/...`` control endpoints register login codes, play the face scan of
``wx.requestFacialVerify`` (``facial-verify``) and show
what was received; ``auto_login`` accepts any ``wx.login`` code.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from .face import CERT_TYPE_ID_CARD, VERIFY_ID_TTL, VERIFY_PASSED, cert_hash

TOKEN_TTL = 7200
STABLE_RENEW_SECONDS = 300  # normal mode renews a stable token in its last 5 minutes
FORCE_REFRESH_PER_DAY = 20  # force_refresh: 20 a day, 30 s apart (getStableAccessToken)
FORCE_REFRESH_SPACING_SECONDS = 30


VERIFY_NOT_DONE = 90002  # the user left wx.requestFacialVerify before the scan (用户取消)
_OUT_SEQ_NO_RE = re.compile(r"[0-9A-Za-z_-]{5,32}")


@dataclass
class _FaceSession:
    """One getverifyid session: what the query must repeat, and the scan's result."""

    appid: str
    openid: str
    out_seq_no: str
    cert_hash: str
    expires_at: float
    verify_ret: int | None = None  # None: wx.requestFacialVerify not run yet


@dataclass
class Failure:
    path: str
    errcode: int | None  # None: only a delay
    errmsg: str
    remaining: int | None  # None: forever
    delay: float = 0.0


@dataclass
class _Token:
    value: str
    expires_at: float


@dataclass
class FakeWeChat:
    """State and behaviour of the fake; ``start()`` serves it on 127.0.0.1 in a thread."""

    apps: dict[str, str] = field(default_factory=dict)  # appid -> secret
    auto_login: bool = False  # any wx.login code is accepted (demo)
    accept_all_subscriptions: bool = False  # demo: every subscribe message is accepted
    templates: dict[str, list[str]] | None = None  # template id -> keywords; None: any template
    pages: set[str] | None = None  # the mini-program's pages (paths without query); None: any

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.tokens: dict[str, _Token] = {}  # cgi-bin/token's slot
        self.stable_tokens: dict[str, list[_Token]] = {}  # stable_token's slot: current last
        self.rejected: set[str] = set()  # tokens WeChat refuses (40001) although still issued
        self.forced_at: dict[str, list[float]] = {}  # appid -> times of force_refresh
        self.token_fetches: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.login_codes: dict[str, dict[str, Any]] = {}
        self.used_codes: set[str] = set()
        self.face_sessions: dict[str, _FaceSession] = {}  # verify_id ->
        self.out_seq_nos: set[tuple[str, str]] = set()  # (appid, out_seq_no): unique per AppID
        self.subscriptions: Counter[tuple[str, str]] = Counter()
        self.subscribe_messages: list[dict[str, Any]] = []
        self.custom_messages: list[dict[str, Any]] = []
        self.menus: list[dict[str, Any]] = []
        self.failures: list[Failure] = []
        self._server = None
        self._thread: threading.Thread | None = None

    # --- control (tests call these directly; the demo through /__fake__/) -------------------

    def add_app(self, appid: str, secret: str) -> None:
        with self.lock:
            self.apps[appid] = secret

    def add_login_code(self, code: str, openid: str, *, unionid: str | None = None) -> None:
        with self.lock:
            self.login_codes[code] = {"openid": openid, "unionid": unionid}

    def facial_verify(self, verify_id: str, verify_ret: int = VERIFY_PASSED) -> bool:
        """What ``wx.requestFacialVerify({verifyId})`` does on the phone: the user's face scan,
        whose result (``verify_ret``, 10000 = passed) queryverifyinfo reports afterwards. A test
        chooses the outcome per verify_id. False when the verify_id is unknown or expired (the
        page would get an error from WeChat)."""
        with self.lock:
            session = self.face_sessions.get(verify_id)
            if session is None or session.expires_at <= time.time():
                return False
            session.verify_ret = verify_ret
            return True

    def expire_verify_id(self, verify_id: str) -> None:
        """The 3600 s of a verify_id have passed."""
        with self.lock:
            self.face_sessions[verify_id].expires_at = time.time() - 1

    def grant_subscription(self, openid: str, template_id: str, count: int = 1) -> None:
        """The user accepted ``count`` one-time subscribe messages of this template."""
        with self.lock:
            self.subscriptions[(openid, template_id)] += count

    def fail(self, path: str, errcode: int, *, times: int | None = None, errmsg: str | None = None) -> None:
        """Make ``path`` (e.g. "cgi-bin/message/subscribe/send") answer ``errcode``."""
        with self.lock:
            self.failures.append(Failure(path.strip("/"), errcode, errmsg or ERRMSG.get(errcode, "error"), times))

    def delay(self, path: str, seconds: float, *, times: int | None = None) -> None:
        with self.lock:
            self.failures.append(Failure(path.strip("/"), None, "", times, seconds))

    def clear_failures(self) -> None:
        with self.lock:
            self.failures.clear()

    def invalidate_tokens(self) -> None:
        """Every issued token of both slots becomes "not the latest" (40001), e.g. after a
        secret reset; the next normal-mode stable_token issues a new one."""
        with self.lock:
            self.tokens.clear()
            self.stable_tokens.clear()

    def reject_token(self, value: str) -> None:
        """WeChat answers 40001 to ``value`` while stable_token's normal mode still returns it
        (the case ``force_refresh`` exists for: a leaked or revoked token)."""
        with self.lock:
            self.rejected.add(value)

    def expire_tokens(self) -> None:
        with self.lock:
            for token in [*self.tokens.values(), *(t for slot in self.stable_tokens.values() for t in slot)]:
                token.expires_at = time.time() - 1

    def age_stable_token(self, appid: str, remaining_seconds: float) -> None:
        """The current stable token of ``appid`` has ``remaining_seconds`` left to live."""
        with self.lock:
            self.stable_tokens[appid][-1].expires_at = time.time() + remaining_seconds

    def stable_token(self, appid: str) -> str | None:
        with self.lock:
            slot = self.stable_tokens.get(appid)
            return slot[-1].value if slot else None

    def set_templates(self, templates: dict[str, list[str]], pages: set[str] | None = None) -> None:
        """The templates the account picked in the console (id -> keywords) and its pages."""
        with self.lock:
            self.templates = {tid: list(keys) for tid, keys in templates.items()}
            self.pages = set(pages) if pages is not None else None

    def fetch_count(self, appid: str | None = None) -> int:
        with self.lock:
            return sum(1 for f in self.token_fetches if appid is None or f["appid"] == appid)

    def reset(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.stable_tokens.clear()
            self.rejected.clear()
            self.forced_at.clear()
            self.token_fetches.clear()
            self.requests.clear()
            self.login_codes.clear()
            self.used_codes.clear()
            self.face_sessions.clear()
            self.out_seq_nos.clear()
            self.subscriptions.clear()
            self.subscribe_messages.clear()
            self.custom_messages.clear()
            self.menus.clear()
            self.failures.clear()

    # --- serving ------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeWeChat:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake WeChat server listens on loopback only")
        self._server = make_server(host, port, self.wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-wechat", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8901) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake WeChat server listens on loopback only")
        self._server = make_server(host, port, self.wsgi, threaded=True)
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    # --- the WSGI application ----------------------------------------------------------------

    def wsgi(self, environ, start_response):
        request = Request(environ)
        path = request.path.strip("/")
        body: Any = None
        raw = request.get_data()
        if raw:
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                body = None
        with self.lock:
            self.requests.append({"path": path, "method": request.method, "query": dict(request.args), "json": body})
        if path.startswith("__fake__/"):
            result = self._control(path.removeprefix("__fake__/"), request, body)
        else:
            injected = self._injected(path)
            if injected is not None:
                result = injected
            else:
                handler = ROUTES.get((request.method, path))
                result = handler(self, request, body) if handler else {"errcode": 404, "errmsg": "not found"}
        # WeChat answers errors with HTTP 200 and a JSON errcode.
        payload = json.dumps(result, ensure_ascii=False).encode("utf-8")
        return Response(payload, 200, content_type="application/json; charset=utf-8")(environ, start_response)

    def _injected(self, path: str) -> dict | None:
        with self.lock:
            for failure in list(self.failures):
                if failure.path != path:
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self.failures.remove(failure)
                if failure.delay:
                    delay = failure.delay
                    break
                return {"errcode": failure.errcode, "errmsg": failure.errmsg}
            else:
                return None
        time.sleep(delay)  # outside the lock: other requests go on
        return None

    # Tokens.

    def _check_app(self, appid: str | None, secret: str | None) -> dict | None:
        if not appid or appid not in self.apps:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if not secrets.compare_digest((secret or "").encode(), self.apps[appid].encode()):
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        return None

    def _issue(self, appid: str, endpoint: str, force: bool) -> dict:
        self.token_fetches.append({"appid": appid, "endpoint": endpoint, "force_refresh": force, "at": time.time()})
        token = _Token("FAKE_" + secrets.token_urlsafe(48), time.time() + TOKEN_TTL)
        self.tokens[appid] = token
        return {"access_token": token.value, "expires_in": TOKEN_TTL}

    def _token(self, request: Request, body: Any) -> dict:
        args = request.args
        if args.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        with self.lock:
            error = self._check_app(args.get("appid"), args.get("secret"))
            if error:
                return error
            return self._issue(args["appid"], "token", True)

    def _stable_token(self, request: Request, body: Any) -> dict:
        if not isinstance(body, dict):
            return {"errcode": 47001, "errmsg": "data format error"}
        if body.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        with self.lock:
            error = self._check_app(body.get("appid"), body.get("secret"))
            if error:
                return error
            appid = body["appid"]
            force = body.get("force_refresh") is True
            now = time.time()
            slot = [t for t in self.stable_tokens.get(appid, []) if t.expires_at > now]
            if force:
                recent = [t for t in self.forced_at.get(appid, []) if t > now - 86400]
                if len(recent) >= FORCE_REFRESH_PER_DAY:
                    return {"errcode": 45009, "errmsg": "reach max api daily quota limit"}
                if recent and now - recent[-1] < FORCE_REFRESH_SPACING_SECONDS and slot:
                    # auth.getStableAccessToken: "连续使用该模式时，请保证调用时间隔至少为 30s，否则不会
                    # 刷新": a forced call within 30 s answers the current token, unchanged.
                    current = slot[-1]
                    self.token_fetches.append({"appid": appid, "endpoint": "stable_token", "force_refresh": True})
                    return {"access_token": current.value, "expires_in": int(current.expires_at - now)}
                self.forced_at[appid] = [*recent, now]
                slot = []  # forcing invalidates the previous stable token
            elif slot and slot[-1].expires_at - now > STABLE_RENEW_SECONDS:
                current = slot[-1]
                self.stable_tokens[appid] = slot
                self.token_fetches.append({"appid": appid, "endpoint": "stable_token", "force_refresh": False})
                return {"access_token": current.value, "expires_in": int(current.expires_at - now)}
            self.token_fetches.append({"appid": appid, "endpoint": "stable_token", "force_refresh": force, "at": now})
            token = _Token("FAKE_S_" + secrets.token_urlsafe(48), now + TOKEN_TTL)
            # In the last 5 minutes the old token stays valid until it expires.
            self.stable_tokens[appid] = [*slot[-1:], token]
            return {"access_token": token.value, "expires_in": TOKEN_TTL}

    def _authorise(self, request: Request) -> tuple[str | None, dict | None]:
        value = request.args.get("access_token")
        if not value:
            return None, {"errcode": 41001, "errmsg": "access_token missing"}
        with self.lock:
            issued = [(appid, token) for appid, token in self.tokens.items()] + [
                (appid, token) for appid, slot in self.stable_tokens.items() for token in slot
            ]
            for appid, token in issued:
                if secrets.compare_digest(token.value.encode(), value.encode()):
                    if token.value in self.rejected:
                        break
                    if token.expires_at <= time.time():
                        return None, {"errcode": 42001, "errmsg": "access_token expired"}
                    return appid, None
        return None, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}

    # Mini-program login and face verification.

    def _jscode2session(self, request: Request, body: Any) -> dict:
        args = request.args
        if args.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        with self.lock:
            error = self._check_app(args.get("appid"), args.get("secret"))
            if error:
                return error
            code = args.get("js_code") or ""
            if code in self.used_codes:
                return {"errcode": 40163, "errmsg": "code been used"}
            entry = self.login_codes.pop(code, None)
            if entry is None and self.auto_login and re.fullmatch(r"[A-Za-z0-9_-]{4,64}", code):
                entry = {"openid": "o" + hashlib.sha256(code.encode()).hexdigest()[:27], "unionid": None}
            if entry is None:
                return {"errcode": 40029, "errmsg": "invalid code"}
            self.used_codes.add(code)
        result = {"openid": entry["openid"], "session_key": secrets.token_urlsafe(16)}
        if entry.get("unionid"):
            result["unionid"] = entry["unionid"]
        return result

    def _face_getverifyid(self, request: Request, body: Any) -> dict:
        """Face verification 2.0, step 1: getVerifyId
        (https://developers.weixin.qq.com/miniprogram/dev/server/API/face/api_getverifyid):
        ``{out_seq_no, cert_info: {cert_type, cert_name, cert_no}, openid}`` -> ``verify_id``
        (at most 256 characters) and ``expires_in`` (3600). ``out_seq_no``: 5-32 characters of
        ``[0-9A-Za-z_-]``, unique per AppID. The page does not list errcodes: this fake answers
        47001 to a body that is not a JSON object with these fields and 40097 (invalid args) to a
        bad ``out_seq_no``, a reused one, or a malformed ``cert_info``."""
        appid, error = self._authorise(request)
        if error:
            return error
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("out_seq_no", "openid")):
            return {"errcode": 47001, "errmsg": "data format error"}
        info = body.get("cert_info")
        if not isinstance(info, dict) or not all(
            isinstance(info.get(k), str) and info[k] for k in ("cert_type", "cert_name", "cert_no")
        ):
            return {"errcode": 40097, "errmsg": "invalid args: cert_info"}
        if info["cert_type"] != CERT_TYPE_ID_CARD or not re.fullmatch(r"\d{17}[\dX]", info["cert_no"]):
            return {"errcode": 40097, "errmsg": "invalid args: cert_info"}
        seq = body["out_seq_no"]
        if not _OUT_SEQ_NO_RE.fullmatch(seq):
            return {"errcode": 40097, "errmsg": "invalid args: out_seq_no"}
        if not body["openid"]:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        assert appid is not None
        with self.lock:
            if (appid, seq) in self.out_seq_nos:
                return {"errcode": 40097, "errmsg": "invalid args: out_seq_no already used"}
            self.out_seq_nos.add((appid, seq))
            verify_id = "fv_" + secrets.token_urlsafe(32)
            self.face_sessions[verify_id] = _FaceSession(
                appid=appid,
                openid=body["openid"],
                out_seq_no=seq,
                cert_hash=cert_hash(info["cert_type"], info["cert_name"], info["cert_no"]),
                expires_at=time.time() + VERIFY_ID_TTL,
            )
        return {"errcode": 0, "errmsg": "ok", "verify_id": verify_id, "expires_in": VERIFY_ID_TTL}

    def _face_queryverifyinfo(self, request: Request, body: Any) -> dict:
        """Face verification 2.0, step 3: queryVerifyInfo
        (https://developers.weixin.qq.com/miniprogram/dev/server/API/face/api_queryverifyinfo):
        ``{verify_id, out_seq_no, cert_hash, openid}`` -> ``verify_ret`` (10000 = passed). WeChat
        checks cert_info (through cert_hash) and openid against getVerifyId's and answers an
        errcode rather than a verify_ret when they differ; this fake uses 40097 for a mismatch
        and 61010 for an unknown or expired verify_id (the page gives no numbers)."""
        appid, error = self._authorise(request)
        if error:
            return error
        fields = ("verify_id", "out_seq_no", "cert_hash", "openid")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k] for k in fields):
            return {"errcode": 47001, "errmsg": "data format error"}
        with self.lock:
            session = self.face_sessions.get(body["verify_id"])
            if session is None or session.appid != appid or session.expires_at <= time.time():
                return {"errcode": 61010, "errmsg": "verify_id is invalid or expired"}
            for name, expected in (
                ("out_seq_no", session.out_seq_no),
                ("cert_hash", session.cert_hash),
                ("openid", session.openid),
            ):
                if not secrets.compare_digest(body[name].encode(), expected.encode()):
                    return {"errcode": 40097, "errmsg": f"invalid args: {name} differs from getverifyid"}
            verify_ret = session.verify_ret if session.verify_ret is not None else VERIFY_NOT_DONE
        return {"errcode": 0, "errmsg": "ok", "verify_ret": verify_ret}

    # Messages and the menu.

    def _subscribe_send(self, request: Request, body: Any) -> dict:
        _, error = self._authorise(request)
        if error:
            return error
        if not isinstance(body, dict) or not body.get("touser") or not body.get("template_id"):
            return {"errcode": 47001, "errmsg": "data format error"}
        template = body["template_id"]
        with self.lock:
            keywords = None if self.templates is None else self.templates.get(template)
            pages = self.pages
        if self.templates is not None and keywords is None:
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return {"errcode": 47003, "errmsg": "argument invalid! data is empty"}
        if keywords is not None:
            unknown = sorted(set(data) - set(keywords))
            missing = sorted(set(keywords) - set(data))
            if unknown:
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{unknown[0]} not in template"}
            if missing:
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{missing[0]}.value is empty"}
        for key, item in data.items():
            problem = _check_value(key, item)
            if problem:
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value {problem}"}
        if body.get("miniprogram_state", "formal") not in ("formal", "trial", "developer"):
            return {"errcode": 47003, "errmsg": "argument invalid! miniprogram_state"}
        page = body.get("page")
        if page is not None and (
            not isinstance(page, str) or (pages is not None and page.partition("?")[0].lstrip("/") not in pages)
        ):
            return {"errcode": 41030, "errmsg": "invalid page"}
        with self.lock:
            slot = (body["touser"], template)
            if not self.accept_all_subscriptions:
                if self.subscriptions[slot] <= 0:
                    return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
                self.subscriptions[slot] -= 1
            self.subscribe_messages.append(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**12)}

    def _api_domain_ip(self, request: Request, body: Any) -> dict:
        _, error = self._authorise(request)
        if error:
            return error
        return {"ip_list": ["101.89.47.18", "101.91.34.103"]}

    def _custom_send(self, request: Request, body: Any) -> dict:
        _, error = self._authorise(request)
        if error:
            return error
        if not isinstance(body, dict) or not body.get("touser") or not body.get("msgtype"):
            return {"errcode": 47001, "errmsg": "data format error"}
        with self.lock:
            self.custom_messages.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    def _menu_create(self, request: Request, body: Any) -> dict:
        _, error = self._authorise(request)
        if error:
            return error
        buttons = body.get("button") if isinstance(body, dict) else None
        if not isinstance(buttons, list) or not buttons:
            return {"errcode": 47001, "errmsg": "data format error"}
        if len(buttons) > 3:
            return {"errcode": 40016, "errmsg": "invalid button size"}
        for button in buttons:
            subs = button.get("sub_button") or []
            if len(subs) > 5:
                return {"errcode": 40023, "errmsg": "invalid sub button size"}
            for item in [button, *subs]:
                if len((item.get("name") or "").encode("utf-8")) > 60:
                    return {"errcode": 40018, "errmsg": "invalid button name size"}
        with self.lock:
            self.menus.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    # Demo control endpoints.

    def _control(self, action: str, request: Request, body: Any) -> dict:
        body = body if isinstance(body, dict) else {}
        if action == "login-code" and request.method == "POST":
            self.add_login_code(str(body["code"]), str(body["openid"]))
        elif action == "facial-verify" and request.method == "POST":
            # The demo's stand-in for the phone's face scan (wx.requestFacialVerify).
            if not self.facial_verify(str(body.get("verify_id")), int(body.get("verify_ret", VERIFY_PASSED))):
                return {"errcode": 61010, "errmsg": "verify_id is invalid or expired"}
        elif action == "subscription" and request.method == "POST":
            self.grant_subscription(str(body["openid"]), str(body["template_id"]), int(body.get("count", 1)))
        elif action != "state":
            return {"errcode": 404, "errmsg": "unknown control action"}
        with self.lock:
            return {
                "errcode": 0,
                "token_fetches": len(self.token_fetches),
                "subscribe_messages": self.subscribe_messages[-50:],
                "custom_messages": self.custom_messages[-50:],
                "menus": self.menus[-5:],
            }


ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40014: "invalid access_token",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit",
}

ROUTES = {
    ("GET", "cgi-bin/token"): FakeWeChat._token,
    ("POST", "cgi-bin/stable_token"): FakeWeChat._stable_token,
    ("GET", "sns/jscode2session"): FakeWeChat._jscode2session,
    ("POST", "cityservice/face/identify/getverifyid"): FakeWeChat._face_getverifyid,
    ("POST", "cityservice/face/identify/queryverifyinfo"): FakeWeChat._face_queryverifyinfo,
    ("POST", "cgi-bin/message/subscribe/send"): FakeWeChat._subscribe_send,
    ("POST", "cgi-bin/message/custom/send"): FakeWeChat._custom_send,
    ("GET", "cgi-bin/get_api_domain_ip"): FakeWeChat._api_domain_ip,
    ("POST", "cgi-bin/menu/create"): FakeWeChat._menu_create,
}

# The value limits per keyword type, from the table "参数值内容限制说明" of subscribeMessage.send
# (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html).
_HAN = "\u4e00-\u9fff"
_DAY = r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}"
_CLOCK = r"\d{1,2}:\d{2}(:\d{2})?"
_ONE_TIME = rf"({_DAY})(\s*{_CLOCK})?|{_CLOCK}"
_ONE_DATE = rf"({_DAY})(\s*{_CLOCK})?"
_VALUE_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "thing": (re.compile(r"[\s\S]{1,20}"), "exceeds 20 characters"),
    "number": (re.compile(r"\d{1,32}(\.\d+)?"), "must be up to 32 digits"),
    "letter": (re.compile(r"[A-Za-z]{1,32}"), "must be up to 32 letters"),
    "symbol": (re.compile(r"[!-/:-@\[-`{-~]{1,5}"), "must be up to 5 symbols"),
    "character_string": (re.compile(r"[!-~]{1,32}"), "must be up to 32 digits, letters or symbols"),
    "time": (re.compile(rf"({_ONE_TIME})(\s*~\s*({_ONE_TIME}))?"), "invalid time format"),
    "date": (re.compile(rf"({_ONE_DATE})(\s*~\s*({_ONE_DATE}))?"), "invalid date format"),
    "amount": (re.compile(r"[¥$€£￥]?\d{1,10}(\.\d+)?元?"), "invalid amount"),
    "phone_number": (re.compile(r"[0-9+\-() ]{1,17}"), "must be up to 17 digits or symbols"),
    "car_number": (re.compile(rf"[{_HAN}A-Za-z0-9][A-Za-z0-9]{{0,6}}[{_HAN}A-Za-z0-9]?"), "invalid car number"),
    "phrase": (re.compile(rf"[{_HAN}]{{1,5}}"), "must be up to 5 Chinese characters"),
}


def _check_value(key: str, item: Any) -> str | None:
    """Why WeChat would refuse this keyword's value (47003), or None."""
    if not isinstance(item, dict) or not isinstance(item.get("value"), str):
        return "invalid"
    value = item["value"]
    if not value:
        return "is empty"
    kind = re.sub(r"\d+$", "", key)
    if kind == "name":
        # 10 Chinese characters; 20 letters or symbols; mixed counts as Chinese.
        has_han = re.search(f"[{_HAN}]", value) is not None
        return "exceeds the name limit" if len(value) > (10 if has_han else 20) else None
    rule = _VALUE_RULES.get(kind)
    if rule is None:
        return "unknown keyword type"
    pattern, problem = rule
    return None if pattern.fullmatch(value) else problem


def build_push(
    message: dict[str, Any],
    *,
    token: str,
    appid: str,
    aes_key: str = "",
    fmt: str = "json",
    timestamp: str | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, str], bytes, str]:
    """A mini-program message push as WeChat sends it ("消息推送", miniprogram/dev/framework/
    server-ability/message-push.html): the query string, the body and its content type.

    ``message`` holds WeChat's field names (JSON shape: ``List`` at the top level; the XML shape
    puts it inside the event's own element, e.g. ``SubscribeMsgPopupEvent``). Plain mode signs
    token + timestamp + nonce; safe mode (``aes_key``) encrypts the message with the AppID inside
    and signs ``Encrypt`` too (``msg_signature``), in the chosen format.
    """
    from wechatpy.crypto import PrpCrypto

    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))

    def sign(*parts: str) -> str:
        return hashlib.sha1("".join(sorted(parts)).encode("utf-8"), usedforsecurity=False).hexdigest()

    def render(data: dict[str, Any]) -> str:
        if fmt == "json":
            return json.dumps(data, ensure_ascii=False)
        import xmltodict

        container = {
            "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
            "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
            "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
        }.get(str(data.get("Event")))
        data = dict(data)
        if container and "List" in data:
            data[container] = {"List": data.pop("List")}
        return xmltodict.unparse({"xml": data}, full_document=False)

    query = {"timestamp": timestamp, "nonce": nonce, "signature": sign(token, timestamp, nonce)}
    if aes_key:
        import base64

        encrypted = PrpCrypto(base64.b64decode(aes_key + "=")).encrypt(render(message), appid).decode()
        outer = {"ToUserName": message.get("ToUserName", ""), "Encrypt": encrypted}
        query.update(encrypt_type="aes", msg_signature=sign(token, timestamp, nonce, encrypted))
        body = render(outer)
    else:
        body = render(message)
    return query, body.encode("utf-8"), "application/json" if fmt == "json" else "text/xml"
