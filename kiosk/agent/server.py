"""The kiosk's local agent: serves the kiosk pages on localhost by proxying to the platform
(adding the device credential, which the browser never sees), and owns the hardware.

Any program on the kiosk PC can talk to 127.0.0.1, so the agent trusts nothing it is sent: it
forwards only the routes the pages need (``PAGE_ROUTES``, method and path), and an ID-card
sign-in is never a request it relays. The page asks ``/agent/read-card``; the agent reads the
card itself, gets a one-time challenge from the platform, has the vendor SDK compare the face,
signs the reading with the device key (signing.py) and posts it.

Routes on the agent's own origin:
* ``/kiosk/...`` in ``PAGE_ROUTES``  proxied with ``Authorization: Kiosk code:secret``; any other
                                ``/kiosk/`` path (the sign-in by card, the device endpoints,
                                print documents) is refused with 404;
* ``POST /agent/read-card``     whether a card was placed; if so it is read, signed and sent to
                                the platform's sign-in, whose answer (cookie included) is relayed;
* ``POST /agent/print``         ``{"job": id}``: fetch the document of that print job (with the
                                citizen's cookie) when the printer is ready, print it through
                                CUPS, report the outcome and relay the platform's answer;
* ``POST /agent/reader/insert`` virtual reader only: place a card (tests and development);
* ``GET /agent/status``         the agent's own view (version, printer, key), for staff.

Dependencies: the standard library and ``cryptography`` (the device key, Ed25519).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import printer as cups
from .reader import CardReader, FaceComparison, ReaderError, VirtualReader
from .signing import PAYLOAD_TYPE, DeviceKey

VERSION = "1.1.0"
log = logging.getLogger("kiosk.agent")

# What the kiosk pages request (kiosk/views.py, kiosk.js): method and full path. Everything else
# under /kiosk/ stays on the agent, above all /kiosk/api/signin/card (only the agent's own signed
# reading signs anyone in), /kiosk/api/signin/challenge and /kiosk/api/device-key.
_CASE = r"[A-Za-z0-9-]{1,40}"
PAGE_ROUTES: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = tuple(
    (frozenset(methods), re.compile(pattern))
    for methods, pattern in (
        (("GET", "HEAD"), r"/kiosk/(signin|signout|mine|print|enterprise|objection|repair|verify)?"),
        (("GET", "HEAD"), r"/kiosk/enterprise/[A-Za-z0-9-]{1,40}"),
        (("GET", "HEAD", "POST"), r"/kiosk/(objection|repair)/[0-9]{1,12}"),
        (("GET", "HEAD"), rf"/kiosk/cases/{_CASE}"),
        (("GET", "HEAD"), r"/kiosk/static/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}"),
        (("POST",), r"/kiosk/api/(touch|print|signin/qr|signin/qr/poll)"),
        (("POST",), rf"/kiosk/api/cases/{_CASE}/receipt"),
    )
)


def page_route_allowed(method: str, path: str) -> bool:
    return any(method in methods and pattern.fullmatch(path) for methods, pattern in PAGE_ROUTES)


_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "server",
    "date",
}


@dataclass
class AgentConfig:
    platform_url: str  # e.g. https://credit.example.gov.cn
    credential: str  # "CODE:secret" from the console, shown once at registration
    printer_queue: str  # CUPS queue name
    listen_host: str = "127.0.0.1"
    listen_port: int = 8765
    print_timeout: float = 120.0
    heartbeat_seconds: float = 30.0
    state_dir: str = ""  # paper counter; empty: no persistence
    request_timeout: float = 60.0
    device_code: str = ""  # empty: the part of the credential before ":"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.device_code or self.credential.partition(":")[0].strip().upper()


class Platform:
    """HTTP calls to the platform (http.client: no redirects followed, they are relayed)."""

    def __init__(self, config: AgentConfig) -> None:
        parts = urlsplit(config.platform_url)
        self.scheme = parts.scheme
        self.netloc = parts.netloc
        self.base_path = parts.path.rstrip("/")
        self.config = config

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn_cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(self.netloc, timeout=self.config.request_timeout)
        try:
            sent = dict(headers or {})
            sent["Authorization"] = f"Kiosk {self.config.credential}"
            sent["Host"] = self.netloc
            conn.request(method, self.base_path + path, body=body, headers=sent)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def post_json(self, path: str, payload: dict[str, Any], cookie: str | None = None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if cookie:
            headers["Cookie"] = cookie
        return self.request("POST", path, json.dumps(payload).encode(), headers)


class PaperCounter:
    def __init__(self, state_dir: str) -> None:
        self._path = Path(state_dir) / "paper-counter.json" if state_dir else None
        self._lock = threading.Lock()
        self.value = 0
        if self._path and self._path.exists():
            try:
                self.value = int(json.loads(self._path.read_text())["sheets"])
            except (OSError, ValueError, KeyError):
                self.value = 0

    def add(self, sheets: int) -> None:
        with self._lock:
            self.value += sheets
            self._save()

    def reset(self) -> None:
        with self._lock:
            self.value = 0
            self._save()

    def _save(self) -> None:
        if self._path:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._path.write_text(json.dumps({"sheets": self.value}))


class Agent:
    def __init__(self, config: AgentConfig, reader: CardReader, key: DeviceKey | None = None) -> None:
        self.config = config
        self.reader = reader
        self.key = key  # None: not enrolled, card sign-in is off (the QR sign-in still works)
        self.platform = Platform(config)
        self.paper = PaperCounter(config.state_dir)
        self.print_lock = threading.Lock()  # one printer, one job at a time
        self.reader_lock = threading.Lock()
        self.enabled: bool | None = None
        self._stop = threading.Event()

    # --- heartbeat ---------------------------------------------------------------------

    def heartbeat_once(self) -> dict[str, Any] | None:
        status = cups.printer_status(self.config.printer_queue)
        payload = {
            "agent_version": VERSION,
            "printer_queue": self.config.printer_queue,
            "printer_state": status.state,
            "printer_message": status.message,
            "paper_counter": self.paper.value,
        }
        try:
            code, _, body = self.platform.post_json("/kiosk/api/heartbeat", payload)
        except OSError as exc:
            log.warning("heartbeat failed: %s", exc)
            return None
        if code != 200:
            log.warning("heartbeat refused: HTTP %s", code)
            return None
        answer = json.loads(body)
        self.enabled = bool(answer.get("enabled"))
        self.config.heartbeat_seconds = float(answer.get("heartbeat_seconds") or self.config.heartbeat_seconds)
        return answer

    def run_heartbeat(self) -> None:
        while not self._stop.is_set():
            self.heartbeat_once()
            self._stop.wait(self.config.heartbeat_seconds)

    def stop(self) -> None:
        self._stop.set()

    # --- card sign-in ------------------------------------------------------------------

    def read_card(self, cookie: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
        """Poll the reader; a placed card is read, its face compared, the reading signed over a
        fresh challenge and posted to the platform's sign-in. The page sends nothing of it."""
        if self.key is None:
            return _json_response(503, _error("device_key_missing", _NO_KEY))
        with self.reader_lock:
            try:
                reading = self.reader.poll()
            except ReaderError as exc:
                log.warning("reader error: %s", exc)
                return _json_response(503, _error("reader_error", _READER_FAILED))
            if reading is None:
                return _json_response(200, {"card": False})
            code, headers, body = self.platform.post_json("/kiosk/api/signin/challenge", {})
            if code != 200:
                return code, _content_type(headers), body
            challenge = json.loads(body)["challenge"]
            try:
                face = self.reader.compare_face(reading)
            except ReaderError as exc:
                log.warning("face comparison failed: %s", exc)
                face = FaceComparison()
            payload = {
                "type": PAYLOAD_TYPE,
                "challenge": challenge,
                "device": self.config.code,
                "id_number": reading.id_number,
                "name": reading.name,
                "valid_until": reading.valid_until,
                "face_result": face.result,
                "face_score": None if face.score is None else round(float(face.score), 4),
                "read_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "reader": reading.reader[:100],
            }
            text, signature = self.key.sign_reading(payload)
            del reading, payload
        return self.platform.post_json("/kiosk/api/signin/card", {"payload": text, "signature": signature}, cookie)

    def enrol(self) -> tuple[int, dict[str, Any]]:
        """Send the device key's public half to the platform (``python -m kiosk.agent enrol``)."""
        assert self.key is not None
        code, _, body = self.platform.post_json("/kiosk/api/device-key", {"public_key": self.key.public_key_b64()})
        try:
            answer = json.loads(body)
        except ValueError:
            answer = {}
        return code, answer if isinstance(answer, dict) else {}

    # --- printing ----------------------------------------------------------------------

    def print_job(self, job_id: int, cookie: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
        with self.print_lock:
            before = cups.printer_status(self.config.printer_queue)
            if before.state != cups.READY:
                # Not fetched: the platform cancels the job, and it does not count.
                outcome = cups.PrintOutcome(False, self.config.printer_queue, None, 0, before, before.state)
            else:
                code, headers, body = self.platform.request(
                    "GET", f"/kiosk/api/print-jobs/{job_id}/document", headers={"Cookie": cookie or ""}
                )
                if code != 200:
                    return code, _content_type(headers), body
                outcome = cups.print_pdf(
                    body, self.config.printer_queue, title=f"kiosk-job-{job_id}", timeout=self.config.print_timeout
                )
                del body  # the report leaves the agent's memory with the job
            if outcome.ok:
                self.paper.add(outcome.pages)
            result = {
                "ok": outcome.ok,
                "printer_queue": outcome.queue,
                "cups_job_id": outcome.cups_job_id,
                "pages": outcome.pages,
                "error": outcome.error,
                "printer_state": outcome.printer.state,
            }
            code, headers, answer = self.platform.post_json(f"/kiosk/api/print-jobs/{job_id}/result", result)
            if code == 200:
                data = json.loads(answer)
                data.update(ok=outcome.ok, printer_state=outcome.printer.state)
                # Tell the fleet page now, not at the next heartbeat.
                threading.Thread(target=self.heartbeat_once, daemon=True).start()
                return _json_response(200 if outcome.ok else 503, data)
            return code, _content_type(headers), answer


_NO_KEY = "本终端尚未登记设备密钥，暂不能刷证登录，请使用微信扫码或联系大厅工作人员"
_READER_FAILED = "读卡器故障，请使用微信扫码或联系工作人员"


def _error(code: str, message: str, detail: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": {"detail": detail} if detail else {}}}


def _json_response(status: int, data: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(data, ensure_ascii=False).encode()


def _content_type(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() == "content-type"]


def make_handler(agent: Agent) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "kiosk-agent"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            # Paths only: query strings may hold search terms of the citizen.
            log.debug("%s %s", self.command, self.path.split("?", 1)[0])

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers:
                if key.lower() in _HOP_BY_HOP:
                    continue
                if key.lower() == "location":
                    value = _local_location(value, agent.platform)
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json_in(self) -> dict[str, Any]:
            try:
                data = json.loads(self._body() or b"{}")
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}

        def do_GET(self) -> None:
            self._dispatch()

        def do_HEAD(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            path = self.path.split("?", 1)[0]
            cookie = self.headers.get("Cookie")
            try:
                if path == "/" and self.command in ("GET", "HEAD"):
                    self._send(302, [("Location", "/kiosk/")], b"")
                elif path == "/agent/read-card" and self.command == "POST":
                    self._body()
                    self._send(*agent.read_card(cookie))
                elif path == "/agent/print" and self.command == "POST":
                    job = self._json_in().get("job")
                    if not isinstance(job, int):
                        self._send(*_json_response(400, _error("bad_request", "缺少打印任务编号")))
                    else:
                        self._send(*agent.print_job(job, cookie))
                elif path == "/agent/reader/insert" and self.command == "POST":
                    self._insert_card()
                elif path == "/agent/status" and self.command == "GET":
                    status = cups.printer_status(agent.config.printer_queue)
                    self._send(
                        *_json_response(
                            200,
                            {
                                "version": VERSION,
                                "printer_queue": agent.config.printer_queue,
                                "printer_state": status.state,
                                "printer_message": status.message,
                                "paper_counter": agent.paper.value,
                                "enabled": agent.enabled,
                                "device_key": agent.key is not None,
                            },
                        )
                    )
                elif page_route_allowed(self.command, path):
                    self._proxy()
                else:
                    self._body()
                    self._send(*_json_response(404, _error("not_found", "请求的资源不存在")))
            except OSError as exc:
                log.warning("platform unreachable: %s", exc)
                if path.startswith("/agent/") or "application/json" in (self.headers.get("Accept") or ""):
                    self._send(*_json_response(502, _error("platform_unreachable", "网络连接中断，请稍后再试")))
                else:
                    self._send(502, [("Content-Type", "text/html; charset=utf-8")], _OFFLINE_PAGE)

        def _insert_card(self) -> None:
            if not isinstance(agent.reader, VirtualReader):
                self._send(*_json_response(404, _error("not_found", "请求的资源不存在")))
                return
            agent.reader.insert(self._json_in())
            self._send(*_json_response(200, {"inserted": True}))

        def _proxy(self) -> None:
            body = self._body() if self.command == "POST" else None
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in _HOP_BY_HOP and k.lower() not in ("host", "authorization")
            }
            self._send(*agent.platform.request(self.command, self.path, body, headers))

    return Handler


def _local_location(value: str, platform: Platform) -> str:
    """A redirect to the platform's own host stays on the agent's origin."""
    parts = urlsplit(value)
    if parts.netloc and parts.netloc == platform.netloc:
        path = parts.path
        if platform.base_path and path.startswith(platform.base_path):
            path = path[len(platform.base_path) :]
        return path + (f"?{parts.query}" if parts.query else "")
    return value


_OFFLINE_PAGE = (
    "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
    "<meta http-equiv='refresh' content='15'><title>网络中断</title></head>"
    "<body style='font-size:32px;text-align:center;padding-top:20vh'><main><h1>网络连接中断</h1>"
    "<p>终端正在重新连接，请稍候或到信用服务窗口办理。</p></main></body></html>"
).encode()


def serve(agent: Agent) -> ThreadingHTTPServer:
    """A started server (its thread is a daemon); ``shutdown()`` stops it."""
    server = ThreadingHTTPServer((agent.config.listen_host, agent.config.listen_port), make_handler(agent))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="kiosk-agent-http", daemon=True).start()
    return server


def run_forever(agent: Agent) -> None:
    server = serve(agent)
    threading.Thread(target=agent.run_heartbeat, name="kiosk-agent-heartbeat", daemon=True).start()
    log.info("kiosk agent %s on http://%s:%s/", VERSION, *server.server_address[:2])
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
        server.shutdown()
