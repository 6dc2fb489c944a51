"""The files in deploy/ are checked by the tools that will read them: every setting in
env.example is one the app knows and the whole file starts the app in production, nginx -t
accepts the site, systemd-analyze accepts the units; and no log line nginx or gunicorn writes
with the shipped configuration holds an ID number (a running nginx, the Procfile's gunicorn)."""

from __future__ import annotations

import dataclasses
import http.client
import logging
import os
import re
import runpy
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.config import Settings, load_settings
from reports import signing, tokens

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# Read by gunicorn.conf.py or systemd, not by the app.
DEPLOY_ONLY = {
    "GUNICORN_BIND",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_MALLOC_THRESHOLD",
}


def _env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and key == key.strip() and key.isupper(), line
            values[key] = value
    return values


def test_env_example_names_only_real_settings():
    known = {f.name for f in dataclasses.fields(Settings)} | DEPLOY_ONLY
    assert set(_env_example()) - known == set()


def test_env_example_filled_in_starts_the_app_in_production(tmp_path):
    values = _env_example()
    key, cert = signing.generate_self_signed(directory=tmp_path)
    tokens.save_private_key(tokens.generate_key(), tmp_path / "r.pem")
    filled = {
        **{k: v for k, v in values.items() if k not in DEPLOY_ONLY},
        "SECRET_KEY": "x" * 48,
        "PII_ENCRYPTION_KEYS": "k2026:" + "A" * 43 + "=",
        "PII_HASH_KEY": "h" * 32,
        "REPORT_SIGNING_KEYS": f"r2026:{tmp_path / 'r.pem'}",
        "REPORT_PDF_KEY_PATH": str(key),
        "REPORT_PDF_CERT_PATH": str(cert),
        "REPORT_PDF_CHAIN_PATHS": "",
    }
    settings = load_settings(tmp_path, environ=filled)
    assert settings.is_production
    assert settings.TRUSTED_PROXY_HOPS == 1
    assert settings.STORAGE_BACKEND == "local"


NEEDS_NGINX = pytest.mark.skipif(
    shutil.which("nginx") is None and not os.environ.get("CI"),
    reason="nginx not installed (apt-get install nginx-light)",
)
# An 18-digit ID number of the kind a citizen types into the search box.
ID_NUMBER = "620302199003071230"


def _nginx_config(tmp_path: Path, site: str, main_extra: str = "") -> Path:
    """The shipped site with its paths pointed into tmp_path, inside a minimal main config."""
    key, cert = signing.generate_self_signed(directory=tmp_path)
    site = site.replace("/etc/credit/tls/fullchain.pem", str(cert)).replace("/etc/credit/tls/privkey.pem", str(key))
    site = site.replace("/etc/nginx/credit_proxy.conf", str(DEPLOY / "nginx-proxy.conf"))
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    temp = "".join(
        f"{name}_temp_path {tmp_path}/{name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = tmp_path / "main.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n{main_extra}events {{}}\n"
        f"http {{\n{temp}access_log off;\ninclude {tmp_path}/site.conf;\n}}\n"
    )
    return main


@NEEDS_NGINX
def test_nginx_accepts_the_site(tmp_path):
    main = _nginx_config(tmp_path, (DEPLOY / "nginx.conf").read_text())
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


# --- no personal data in nginx's logs -------------------------------------------------------------


def _directives(text: str) -> list[tuple[int, list[str], str]]:
    """(depth, words, enclosing block's first word) of every directive and block opening, from
    nginx's syntax: comments to the end of the line, quoted strings, ';', '{', '}'."""
    tokens = re.findall(r"#[^\n]*|'[^']*'|\"[^\"]*\"|[{};]|[^\s{};'\"#]+", text)
    found, words, stack = [], [], []
    for token in tokens:
        if token.startswith("#"):
            continue
        if token in (";", "{"):
            found.append((len(stack), words, stack[-1] if stack else ""))
            if token == "{":
                stack.append(words[0] if words else "")
            words = []
        elif token == "}":
            stack.pop()
            words = []
        else:
            words = [*words, token.strip("'\"")]
    assert not stack, "unbalanced braces"
    return found


def _site_directives() -> list[tuple[int, list[str], str]]:
    return _directives((DEPLOY / "nginx.conf").read_text()) + _directives((DEPLOY / "nginx-proxy.conf").read_text())


def test_every_server_block_logs_in_the_privacy_format():
    directives = _directives((DEPLOY / "nginx.conf").read_text())
    servers = [i for i, (depth, words, _) in enumerate(directives) if depth == 0 and words == ["server"]]
    assert servers
    bounds = [*servers[1:], len(directives)]
    for start, end in zip(servers, bounds, strict=True):
        inside = [words for depth, words, parent in directives[start + 1 : end] if depth == 1 and parent == "server"]
        listens = [w[1] for w in inside if w[0] == "listen"]
        access = [w for w in inside if w[0] == "access_log"]
        errors = [w for w in inside if w[0] == "error_log"]
        assert access and all(w[-1] == "credit_privacy" for w in access), (listens, access)
        # nginx prints the request line, query string included, in every error-log message about
        # a request, at any level: only its own failures (crit and above) are let through.
        assert errors and all(w[-1] in {"crit", "alert", "emerg"} for w in errors), (listens, errors)
    # No other access_log anywhere (a location's would bring its own format).
    others = [w for _, w, _ in _site_directives() if w[0] == "access_log" and w[-1] != "credit_privacy"]
    assert others == []


def test_log_formats_never_carry_the_query_string_or_an_unmasked_path():
    directives = _site_directives()
    formats = [words for _, words, _ in directives if words[0] == "log_format"]
    assert [f[1] for f in formats] == ["credit_privacy"]
    text = " ".join(formats[0][2:])
    forbidden = re.findall(
        r"\$(request|request_uri|args|query_string|is_args|arg_\w+|http_referer|request_body|uri)\b", text
    )
    assert forbidden == []
    assert "$credit_log_path" in text  # the masked path (a map over $uri)
    levels = [w for depth, w, _ in directives if w[0] == "limit_req_log_level"]
    assert levels == [["limit_req_log_level", "info"]], levels  # refusals below the error log's level


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _RunningNginx:
    def __init__(self, tmp_path: Path, site: str) -> None:
        self.http, self.https, dead = _free_port(), _free_port(), _free_port()
        site = site.replace("listen [::]:80;", "").replace("listen [::]:443 ssl http2;", "")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.http};")
        site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https} ssl;")
        # The app is down (502s, which nginx's error log reports with the request line), and a
        # flood guard that bites at the third request, without depending on the clock.
        site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{dead};")
        site = site.replace("rate=30r/s", "rate=1r/m").replace("burst=60", "burst=1")
        self.tmp_path = tmp_path
        main = _nginx_config(tmp_path, site, main_extra="daemon off;\n")
        self.output = tmp_path / "nginx.out"
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                ["nginx", "-p", str(tmp_path), "-c", str(main)], stdout=out, stderr=subprocess.STDOUT
            )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.https), timeout=1).close()
                break
            except OSError:
                assert self.process.poll() is None, self.output.read_text()
                time.sleep(0.05)

    def request(self, method: str, path: str, tls: bool = True, source: str = "127.0.0.1", **headers: str) -> int:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", self.https, context=context, timeout=30)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=30, source_address=(source, 0))
        try:
            conn.request(method, path, headers={"Host": "credit.jinchang.gov.cn", **headers})
            return conn.getresponse().status
        finally:
            conn.close()

    def logs(self) -> str:
        return "".join(p.read_text() for p in sorted(self.tmp_path.glob("*.log")))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def running_nginx(tmp_path):
    started = []

    def start(site: str | None = None) -> _RunningNginx:
        started.append(_RunningNginx(tmp_path, site or (DEPLOY / "nginx.conf").read_text()))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@NEEDS_NGINX
def test_no_log_line_of_the_site_holds_an_id_number(running_nginx):
    """Before: the port-80 block logged in the distribution's combined format and the flood
    guard's refusals wrote the request line into the error log (33 lines with an ID number in
    the issue's run). Now: none, whatever the outcome."""
    nginx = running_nginx()
    search = f"/search?q={ID_NUMBER}"
    assert nginx.request("GET", search, tls=False) == 301
    statuses = [nginx.request("GET", search) for _ in range(4)]
    assert statuses[:2] == [502, 502] and statuses[2:] == [429, 429]  # app down, then the flood guard
    assert nginx.request("GET", f"/subjects/{ID_NUMBER}/x?id={ID_NUMBER}", tls=False) == 301
    assert nginx.request("GET", f"/subjects/{ID_NUMBER}/{ID_NUMBER[:15]}") == 429
    assert nginx.request("POST", f"/api/v1/verify?q={ID_NUMBER}", **{"Content-Length": str(50 * 2**20)}) == 413
    assert nginx.request("GET", f"/x%20{ID_NUMBER}", tls=False) == 301
    nginx.stop()
    logs = nginx.logs()
    assert ID_NUMBER not in logs and ID_NUMBER[6:14] not in logs, logs
    access = (nginx.tmp_path / "credit.access.log").read_text().splitlines()
    assert len(access) == 9, access
    assert '"GET /search HTTP/1.1" 301' in access[0]
    assert sum('"GET /search HTTP/1.1" 429' in line for line in access) == 2
    assert '"GET /subjects/*/x HTTP/1.1" 301' in access[5]
    assert '"GET (path withheld) HTTP/1.1" 429' in access[6]  # two ID numbers in one path
    assert '"POST /api/v1/verify HTTP/1.1" 413' in access[7]
    assert '"GET /x * HTTP/1.1" 301' in access[8]


@NEEDS_NGINX
def test_metrics_through_nginx_only_for_the_listed_scraper(running_nginx):
    nginx = running_nginx()
    assert nginx.request("GET", "/metrics") == 502  # loopback is listed: passed on (the app is down here)
    site = (DEPLOY / "nginx.conf").read_text().replace("127.0.0.1 1;", "").replace("::1       1;", "")
    nginx.stop()
    other = running_nginx(site)
    assert other.request("GET", "/metrics") == 404


@NEEDS_NGINX
def test_behind_a_tls_load_balancer_port_80_serves_instead_of_redirecting(running_nginx):
    """The shipped redirect answered every request of a TLS-terminating load balancer with a
    redirect to itself. Listing the balancer's address makes nginx believe its
    X-Forwarded-Proto; nobody else's."""
    site = (DEPLOY / "nginx.conf").read_text()
    assert "# 10.0.0.0/24 1;" in site
    nginx = running_nginx(site.replace("# 10.0.0.0/24 1;", "127.0.0.1/32 1;"))
    https = {"X-Forwarded-Proto": "https"}
    assert nginx.request("GET", "/healthz", tls=False, **https) == 502  # served (the app is down)
    assert nginx.request("GET", "/healthz", tls=False) == 301  # the client used plain http at the balancer
    assert nginx.request("GET", "/healthz", tls=False, source="127.0.0.2", **https) == 301  # not a balancer
    assert nginx.request("GET", "/healthz") == 502  # TLS here still works


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and not os.environ.get("CI"), reason="systemd-analyze not installed"
)
def test_systemd_units_verify(tmp_path):
    """Paths point into this checkout so that systemd can check the executables exist."""
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text()
        text = text.replace("/opt/credit/app", str(ROOT)).replace("/etc/credit/credit.env", str(DEPLOY / "env.example"))
        name = unit.name.replace("@.service", "@1.service")
        (tmp_path / name).write_text(text)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "credit-web.service" in names and "credit-worker@1.service" in names
    result = subprocess.run(
        ["systemd-analyze", "verify", *names], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    problems = [line for line in result.stderr.splitlines() if "credit-" in line]
    assert problems == []


def test_flask_wrapper_runs_commands_with_the_env_file(tmp_path):
    env_file = tmp_path / "credit.env"
    env_file.write_text(
        f"ENV=development\nDATABASE_URL=sqlite:///{tmp_path / 'wrapped.db'}\nSTORAGE_DIR={tmp_path / 'files'}\n"
        "PII_ENCRYPTION_KEYS=k1:" + "A" * 43 + "=\nSECRET_KEY=" + "s" * 40 + "\nPII_HASH_KEY=h\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_") and k != "TEST_DATABASE_URL"}
    result = subprocess.run(
        ["bash", str(DEPLOY / "flask.sh"), "db", "upgrade"],
        env={**base, "CREDIT_ENV_FILE": str(env_file)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "wrapped.db").stat().st_size > 0  # migrated where the env file said
    missing = subprocess.run(
        ["bash", str(DEPLOY / "flask.sh"), "--help"],
        env={**base, "CREDIT_ENV_FILE": str(tmp_path / "absent.env")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_gunicorn_fixes_glibc_malloc_thresholds_in_each_worker(monkeypatch):
    monkeypatch.delenv("GUNICORN_MALLOC_THRESHOLD", raising=False)
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["malloc_threshold"] == 128 * 1024
    assert conf["_fixed_malloc_thresholds"](conf["malloc_threshold"]) is True  # glibc accepted both
    calls = []
    conf["post_fork"].__globals__["_fixed_malloc_thresholds"] = calls.append
    conf["post_fork"](None, None)
    assert calls == [128 * 1024]
    monkeypatch.setenv("GUNICORN_MALLOC_THRESHOLD", "0")
    off = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    off["post_fork"].__globals__["_fixed_malloc_thresholds"] = calls.append
    off["post_fork"](None, None)
    assert calls == [128 * 1024]  # 0: glibc's own behaviour, nothing set


# --- no personal data in gunicorn's logs ----------------------------------------------------------


def test_gunicorn_access_format_has_no_query_string_referrer_or_request_line():
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    fmt = conf["access_log_format"]
    atoms = re.findall(r"%\(([^)]*)\)s", fmt)
    assert "U" in atoms  # the path, without its query string
    forbidden = {"r", "q", "f", "{referer}i", "{query_string}e", "{raw_uri}e", "{request_uri}e"}
    assert forbidden & {a.lower() for a in atoms} == set()
    assert conf["logger_class"].__name__ == "PrivacyLogger"


def test_gunicorn_logs_mask_id_numbers_in_messages_and_tracebacks():
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    mask = conf["_MaskIdNumbers"]()
    try:
        raise ValueError(f"bad value {ID_NUMBER}")
    except ValueError:
        exc_info = sys.exc_info()
    # What gunicorn's worker writes when a request fails: the URI, query string included.
    record = logging.LogRecord(
        "gunicorn.error", logging.ERROR, __file__, 1, "Error handling request %s", (f"/search?q={ID_NUMBER}",), exc_info
    )
    assert mask.filter(record) is True
    text = logging.Formatter().format(record)
    assert ID_NUMBER not in text and "Error handling request /search?q=*" in text
    assert "bad value *" in text
    old = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(U)s", ({"U": "/a/620302900307123"},), None)
    mask.filter(old)
    assert old.getMessage() == "/a/*"  # the 15-digit numbers of before 1999 too


def test_procfile_web_runs_gunicorn_on_loopback_with_the_privacy_config(tmp_path):
    """The Procfile's web line, run by the shell as a platform would: gunicorn with
    deploy/gunicorn.conf.py on 127.0.0.1 (HOST/PORT), and an access log without the query
    string or an ID number in the path. Before: gunicorn's default format (the request line
    with its query string) on 0.0.0.0."""
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CREDIT_") and k != "TEST_DATABASE_URL"},
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "ENV": "testing",
        "DATABASE_URL": "sqlite:///" + str(tmp_path / "procfile.db"),
        "SECRET_KEY": "s" * 40,
        "PII_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
        "PII_HASH_KEY": "h",
        "RATELIMIT_ENABLED": "false",
    }
    env.pop("HOST", None)
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            ["bash", "-c", "exec " + lines["web"]],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        statuses = []
        for path in ("/healthz", f"/search?q={ID_NUMBER}", f"/subjects/{ID_NUMBER}"):
            for _ in range(300):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("GET", path)
                    statuses.append(conn.getresponse().status)
                    conn.close()
                    break
                except OSError:
                    assert server.poll() is None, log_path.read_text()
                    time.sleep(0.1)
        assert statuses[0] == 200 and len(statuses) == 3, statuses
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    log = log_path.read_text()
    assert f"Listening at: http://127.0.0.1:{port}" in log
    assert ID_NUMBER not in log, log
    # The path is logged with its ID number masked: by the app's log masking in the worker
    # (backend/logging_privacy.py, "6203**********1230") or, for a line the master writes, by the
    # config's own filter ("*").
    assert '"GET /search HTTP/1.1"' in log, log
    assert re.search(r'"GET /subjects/(\*|\d{4}\*{10}[\dX]{4}) HTTP/1\.1"', log), log


_COUNTING_PROCESS = """
import sys
from prometheus_client import CollectorRegistry, Counter, Histogram
registry = CollectorRegistry()
Counter("credit_test_requests_total", "t", ["status"], registry=registry).labels("200").inc(int(sys.argv[1]))
Histogram("credit_test_seconds", "t", registry=registry, buckets=(0.1, 1.0)).observe(0.5)
print(__import__("os").getpid())
"""


def test_recycled_gunicorn_processes_leave_no_metrics_files_and_no_lost_counts(tmp_path, monkeypatch):
    """Each process gunicorn recycles left counter_<pid>.db and histogram_<pid>.db behind for good
    (mark_process_dead only drops live gauges): thousands of files in /run within weeks, all read
    by every scrape. child_exit now folds them into one archive file per kind."""
    from prometheus_client import CollectorRegistry, multiprocess

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pids = [
        int(
            subprocess.run(
                [sys.executable, "-c", _COUNTING_PROCESS, str(n)], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for n in (3, 4, 5)
    ]

    def totals() -> dict:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in registry.collect() for s in m.samples}

    before = totals()
    assert before[("credit_test_requests_total", (("status", "200"),))] == 12
    assert before[("credit_test_seconds_count", ())] == 3
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    for pid in pids[:2]:
        conf["child_exit"](None, type("Worker", (), {"pid": pid})())
        assert totals() == before
    names = sorted(p.name for p in tmp_path.glob("*.db"))
    assert names == sorted(
        ["counter_archive.db", "histogram_archive.db", f"counter_{pids[2]}.db", f"histogram_{pids[2]}.db"]
    )
