"""HTTP load benchmarks: gunicorn with the production configuration, driven by wrk.

``python -m bench.http_bench`` (``bench/run.py`` calls ``run()`` after the in-process figures).

- **Server**: ``deploy/gunicorn.conf.py`` serving ``bench.wsgi_bench:app`` (the production app
  plus ``/__bench/ping``), ``ENV=production`` with every secret set from the environment and
  throw-away report keys and a PDF signing certificate generated in a temporary folder, local
  storage there too, ``TRUSTED_PROXY_HOPS=1`` (wrk sends the headers nginx would) and
  multiprocess Prometheus metrics, as ``deploy/systemd/credit-web.service`` runs it. Rate limits
  are off (``RATELIMIT_ENABLED=false``): the benchmark is one client. Worker recycling is off
  (``GUNICORN_MAX_REQUESTS=0``) so that memory growth is measured instead of reset.
- **Data**: a scratch copy of the benchmark database (``bench/run.py`` builds or reuses it:
  100k enterprises, 1M records), so the writes of a run (reports, sessions, audit rows) never
  reach the database that is reused. Before the server starts: 200 enterprise reports are
  issued (real QR tokens) and 200 verified citizens get mini-program bearer tokens.
- **Load**: wrk in its own process, 32 connections, each measure after a warm-up, requests
  drawn at random from prepared keys (``bench/requests.lua``). Errors = non-2xx answers plus
  socket errors (connect, read, write, timeout).
- **Memory**: VmRSS of every worker once the server has answered ``--rss-requests`` requests,
  then again after a soak of ``--soak-seconds`` of mixed traffic.

Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).resolve().parent / "requests.lua"
SEED = 2026
MP_APPID = "wxbench00000000000"

TARGET_RATIO = 0.50  # profile and verification: at least half the baseline's requests/s
TARGET_P99_MS = 50.0
TARGET_SEARCH_P99_MS = 100.0
TARGET_RSS_MB = 200.0
TARGET_RSS_GROWTH = 0.10

WRK_TIMEOUT = "30s"  # gunicorn's own timeout: a slow answer is measured, not counted as lost
SOAK_CHUNK_SECONDS = 60  # RSS is sampled between chunks
RSS_PHASE_MAX_SECONDS = 1800  # bound on the time spent reaching --rss-requests


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("HTTP load benchmarks (gunicorn + wrk)")
    group.add_argument("--skip-http", action="store_true", help="skip the HTTP load benchmarks")
    group.add_argument("--http-duration", type=float, default=12.0, help="seconds measured per endpoint")
    group.add_argument("--http-warmup", type=float, default=3.0, help="warm-up seconds before each measure")
    group.add_argument("--http-connections", type=int, default=32)
    group.add_argument("--http-workers", type=int, default=2, help="gunicorn processes (WEB_CONCURRENCY)")
    group.add_argument("--http-threads", type=int, default=2, help="threads per process (GUNICORN_THREADS)")
    group.add_argument("--http-reports", type=int, default=200, help="reports issued first for their tokens")
    group.add_argument("--http-citizens", type=int, default=200, help="verified citizens with bearer tokens")
    group.add_argument("--rss-requests", type=int, default=100_000, help="requests before the first RSS reading")
    group.add_argument("--soak-seconds", type=int, default=600, help="mixed traffic between the RSS readings")


# --------------------------------------------------------------------------------------------
# Results.
# --------------------------------------------------------------------------------------------
@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    non2xx: int
    last_bad_status: int
    loadgen_cpu_s: float
    load1: float
    app_cpu_s: float = 0.0  # gunicorn (master and workers) over the measure
    db_cpu_s: float = 0.0  # the PostgreSQL server's processes (0 on SQLite: it runs in the app)

    def cpu_ms_per_request(self, seconds: float) -> float:
        return seconds * 1000 / self.requests if self.requests else float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non2xx


@dataclass
class Row:
    label: str
    result: WrkResult
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(passed for _, passed in self.checks)


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (all their threads) so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone since it was listed
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def _database_server_pids() -> list[int]:
    """The local PostgreSQL server's processes (postmaster, backends, background workers)."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in ("postgres", "postmaster"):
                pids.append(int(comm.parent.name))
        except (OSError, ValueError):
            continue
    return pids


def _loadavg() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


# --------------------------------------------------------------------------------------------
# The database copy, keys and environment.
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A copy of the benchmark database for this run, dropped afterwards."""
    from bench.run import DATA_DIR, SQLITE_PATH, _drop_sqlite

    if url.startswith("sqlite"):
        copy = DATA_DIR / "bench-http.db"
        _drop_sqlite(copy)
        shutil.copyfile(SQLITE_PATH, copy)
        # Write the copy out before measuring: otherwise the kernel flushes its 700 MB during the
        # first measures (seen: the first measured endpoint at a third of its throughput).
        os.sync()
        try:
            yield "sqlite:///" + str(copy)
        finally:
            _drop_sqlite(copy)
        return

    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    source = parsed.database
    scratch = f"{source}_http"
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        # A template must have no other sessions. The benchmark database is the benchmark's own
        # (a rebuild drops its schema): idle connections left in the pools of the in-process
        # part are closed; their pools replace them (backend.app._ping_after_idle) if ever used again.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND state = 'idle'",
            (source,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        for attempt in range(10):
            try:
                # FILE_COPY: one checkpoint and a file copy, much faster than WAL_LOG for a
                # database of this size.
                conn.execute(f'CREATE DATABASE "{scratch}" TEMPLATE "{source}" STRATEGY FILE_COPY')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 9:
                    raise
                time.sleep(1)
    try:
        yield parsed.set(database=scratch).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(db_url: str, folder: Path, port: int, args: argparse.Namespace) -> dict[str, str]:
    """The settings of deploy/env.example with throw-away secrets and keys from ``folder``."""
    from backend.config import Settings
    from bench.run import BENCH_CONFIG
    from reports import signing, tokens

    token_key = folder / "report-bench1.pem"
    tokens.save_private_key(tokens.generate_key(), token_key)
    pdf_key, pdf_cert = signing.generate_self_signed(directory=folder)
    names = set(Settings.__dataclass_fields__) | {"PROMETHEUS_MULTIPROC_DIR"}
    # Nothing inherited from the shell may change the configuration under test.
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith(("CREDIT_", "GUNICORN_"))}
    env.update(
        {
            "ENV": "production",
            "PUBLIC_BASE_URL": "https://credit.jinchang.gov.cn",
            "LOG_LEVEL": "INFO",
            "DATABASE_URL": db_url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            # The database was built with the benchmark's PII keys: the same ones decrypt it.
            "PII_ENCRYPTION_KEYS": BENCH_CONFIG["PII_ENCRYPTION_KEYS"],
            "PII_HASH_KEY": BENCH_CONFIG["PII_HASH_KEY"],
            "REPORT_SIGNING_KEYS": f"bench1:{token_key}",
            "REPORT_PDF_KEY_PATH": str(pdf_key),
            "REPORT_PDF_CERT_PATH": str(pdf_cert),
            "STORAGE_BACKEND": "local",
            "STORAGE_DIR": str(folder / "storage"),
            "TRUSTED_PROXY_HOPS": "1",
            "RATELIMIT_ENABLED": "false",
            # The mini-program channel is on; WeChat itself is never called by the measured
            # routes (sessions are created directly), and production insists on https.
            "WECHAT_MP_APPID": MP_APPID,
            "WECHAT_MP_SECRET": secrets.token_hex(16),
            "WECHAT_API_BASE_URL": "https://127.0.0.1:9",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(args.http_workers),
            "GUNICORN_THREADS": str(args.http_threads),
            "GUNICORN_MAX_REQUESTS": "0",
        }
    )
    return env


def _app(env: dict[str, str]):
    """The production app in this process, configured from ``env`` exactly as gunicorn's is."""
    from unittest import mock

    from backend.app import create_app

    with mock.patch.dict(os.environ, env, clear=True):
        return create_app()


# --------------------------------------------------------------------------------------------
# Requests: one file per measure, one request per line (bench/requests.lua).
# --------------------------------------------------------------------------------------------
def _line(method: str, path: str, bearer: str = "", body: dict | None = None) -> str:
    return "\t".join((method, path, bearer, json.dumps(body, ensure_ascii=False) if body else ""))


def prepare_requests(env: dict[str, str], args: argparse.Namespace) -> dict[str, list[str]]:
    """Keys from the database, real report tokens and citizen sessions; committed."""
    import sqlalchemy as sa

    from backend.actors import Actor
    from backend.extensions import db
    from backend.issued_reports.operations import issue_report
    from backend.subjects.models import Subject
    from backend.types import utcnow
    from miniprogram_api.operations import open_session

    rng = random.Random(SEED)
    app = _app(env)
    with app.app_context():
        legal = db.session.execute(sa.text("SELECT id, uscc, name FROM subject WHERE kind = 'legal'")).all()
        picks = rng.sample(legal, min(5000, len(legal)))
        lines: dict[str, list[str]] = {"baseline": [_line("GET", "/__bench/ping")]}
        lines["profile"] = [_line("GET", f"/api/v1/subjects/{uscc}") for _, uscc, _ in picks]
        search = []
        for _, _, name in picks:
            size = rng.choice((2, 3, 4))
            start = rng.randrange(0, max(1, len(name) - size + 1))
            search.append(_line("GET", "/api/v1/subjects?q=" + quote(name[start : start + size], safe="")))
        lines["search"] = search

        print(f"  issuing {args.http_reports} reports for their QR tokens ...", flush=True)
        verify = []
        for subject_id, _, _ in picks[: args.http_reports]:
            issued = issue_report(Actor.cli("bench"), db.session.get(Subject, subject_id), "enterprise")
            verify.append(_line("POST", "/api/v1/verify", body={"qr": issued.verification_url}))
            db.session.commit()
        lines["verify"] = verify

        # Verified citizens, as face verification leaves them (miniprogram_api.operations
        # verify_identity): the user bound to a natural person who has records.
        people = db.session.scalars(
            sa.text(
                "SELECT DISTINCT r.subject_id FROM credit_record r JOIN subject s ON s.id = r.subject_id "
                "WHERE s.kind = 'natural' ORDER BY r.subject_id LIMIT :n"
            ),
            {"n": args.http_citizens},
        ).all()
        bearers = []
        for index, subject_id in enumerate(people):
            token, session = open_session(MP_APPID, f"bench-openid-{index:05d}", ip="127.0.0.1")
            session.user.subject_id = subject_id
            session.user.verified_at = utcnow()
            bearers.append(token)
        db.session.commit()
        if not bearers:
            raise SystemExit("the benchmark database has no natural persons with records")
        lines["records"] = [_line("GET", "/api/mp/v1/me/records", token) for token in bearers]
        lines["issue"] = [
            _line("POST", "/api/mp/v1/reports", rng.choice(bearers), {"kind": "enterprise", "uscc": uscc})
            for _, uscc, _ in picks[:1000]
        ]
        db.session.remove()
        db.engine.dispose()
    return lines


def _mix(lines: dict[str, list[str]], rng: random.Random) -> list[str]:
    """Soak traffic: equal shares of the read endpoints, 1 % report issues (fonts, renderer)."""
    mix = []
    for key in ("profile", "search", "verify", "records"):
        mix += [rng.choice(lines[key]) for _ in range(1000)]
    mix += [rng.choice(lines["issue"]) for _ in range(40)]
    return mix


# --------------------------------------------------------------------------------------------
# gunicorn and wrk.
# --------------------------------------------------------------------------------------------
class Server:
    def __init__(self, env: dict[str, str], port: int, log_path: Path, workers: int) -> None:
        self.env, self.port, self.log_path, self.workers = env, port, log_path, workers
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> None:
        command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "bench.wsgi_bench:app"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            if len(self.worker_pids()) == self.workers and self._ping():
                return
            time.sleep(0.5)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def _ping(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/__bench/ping")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (comm) state ppid ...": comm may hold spaces, so split after the ")".
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.proc.pid:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def pids(self) -> list[int]:
        """The master and its workers."""
        return ([self.proc.pid] if self.proc is not None else []) + self.worker_pids()

    def worker_rss_mb(self, source: str = "status", field: str = "VmRSS:") -> dict[int, float]:
        """VmRSS of each worker (the target); ``smaps_rollup``/``Pss:`` gives its proportional
        share, which does not count the pages the workers share (libraries, fonts) twice."""
        sizes = {}
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
                    if line.startswith(field):
                        sizes[pid] = int(line.split()[1]) / 1024
            except OSError:
                continue
        return sizes

    def worker_pss_mb(self) -> dict[int, float]:
        return self.worker_rss_mb("smaps_rollup", "Pss:")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def first_traceback(self, frames: int = 6) -> str:
        """The first traceback in the log: its last frames and the exception line."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        for index, line in enumerate(text):
            if line.startswith("Traceback"):
                end = index + 1
                while end < len(text) and text[end].startswith(" "):
                    end += 1
                body = text[index + 1 : end]
                starts = [i for i, x in enumerate(body) if x.startswith("  File ")]
                tail = body[starts[-frames] :] if len(starts) > frames else body
                return "\n".join([text[max(0, index - 1)], line, *tail, *text[end : end + 1]])
        return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # gunicorn's graceful stop of its own workers
        try:
            self.proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group, started above
            self.proc.wait(timeout=10)


def run_wrk(
    port: int, request_file: Path, seconds: float, connections: int, seed: int, server: Server | None = None
) -> WrkResult:
    threads = max(1, min(2, connections))
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
        "--timeout", WRK_TIMEOUT, "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}",
        "--", str(request_file), str(seed),
    ]  # fmt: skip
    app_pids = server.pids() if server is not None else []
    db_pids = _database_server_pids() if server is not None else []
    app_before, db_before = _cpu_seconds(app_pids), _cpu_seconds(db_pids)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    app_cpu, db_cpu = _cpu_seconds(app_pids) - app_before, _cpu_seconds(db_pids) - db_before
    load1 = _loadavg()[0]
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    data = json.loads(line.split(" ", 1)[1])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        non2xx=data["non2xx"],
        last_bad_status=data["last_bad_status"],
        loadgen_cpu_s=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        load1=load1,
        app_cpu_s=app_cpu,
        db_cpu_s=db_cpu,
    )


# --------------------------------------------------------------------------------------------
# The run.
# --------------------------------------------------------------------------------------------
MEASURES = (
    ("baseline", "baseline: GET /__bench/ping (constant)"),
    ("profile", "profile by USCC  GET /api/v1/subjects/<uscc>"),
    ("search", "name search  GET /api/v1/subjects?q=<2-4 chars>"),
    ("verify", "verification  POST /api/v1/verify {qr}"),
    ("records", "mini-program  GET /api/mp/v1/me/records"),
    ("issue", "report issue  POST /api/mp/v1/reports"),
)


def _checks(key: str, result: WrkResult, base_rps: float) -> list[tuple[str, bool]]:
    checks = [("0 errors", result.errors == 0)]
    if key in ("profile", "verify"):
        checks.append((f">= {TARGET_RATIO:.0%} base", base_rps > 0 and result.rps / base_rps >= TARGET_RATIO))
        checks.append((f"p99 <= {TARGET_P99_MS:g} ms", result.p99_ms <= TARGET_P99_MS))
    elif key == "search":
        checks.append((f"p99 <= {TARGET_SEARCH_P99_MS:g} ms", result.p99_ms <= TARGET_SEARCH_P99_MS))
    return checks


def _format_row(row: Row, base_rps: float) -> str:
    r = row.result
    ratio = r.rps / base_rps if base_rps else float("nan")
    errors = str(r.errors) + (f" ({r.last_bad_status})" if r.non2xx else "")
    target = ", ".join(name for name, _ in row.checks)
    verdict = "PASS" if row.ok else "FAIL"
    return (
        f"{row.label:<50}{r.rps:>9.1f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{errors:>9}{ratio:>8.2f}"
        f"{r.loadgen_cpu_s / r.seconds if r.seconds else 0:>8.0%}{r.load1:>7.2f}   {target:<38}{verdict}"
    )


def _soak(
    server: Server, port: int, mix_file: Path, args: argparse.Namespace, served: int, say
) -> tuple[list[str], bool]:
    """Mixed traffic up to ``--rss-requests`` served, an RSS reading, the soak, another reading."""
    lines, ok = [], True
    started = time.monotonic()
    rate = 500.0
    errors = 0
    while served < args.rss_requests and time.monotonic() - started < RSS_PHASE_MAX_SECONDS:
        seconds = min(SOAK_CHUNK_SECONDS, max(5.0, (args.rss_requests - served) / rate + 1))
        result = run_wrk(port, mix_file, seconds, args.http_connections, SEED + served)
        served += result.requests
        errors += result.errors
        rate = max(result.rps, 1.0)
    first = server.worker_rss_mb()
    first_pss = server.worker_pss_mb()
    say(f"  RSS after {served:,} requests: " + ", ".join(f"pid {p} {mb:.1f} MB" for p, mb in first.items()))
    soak_requests, soak_errors, load = 0, 0, []
    soak_start = time.monotonic()
    while time.monotonic() - soak_start < args.soak_seconds - 0.5:
        remaining = args.soak_seconds - (time.monotonic() - soak_start)
        result = run_wrk(port, mix_file, min(SOAK_CHUNK_SECONDS, remaining), args.http_connections, SEED + served)
        served += result.requests
        soak_requests += result.requests
        soak_errors += result.errors
        load.append(result.load1)
        say(
            f"  soak {time.monotonic() - soak_start:5.0f} s: {result.rps:.0f} req/s, RSS "
            + ", ".join(f"{mb:.1f}" for mb in server.worker_rss_mb().values())
            + f" MB, load {result.load1:.2f}"
        )
    last = server.worker_rss_mb()
    last_pss = server.worker_pss_mb()
    worst_first = max(first.values(), default=0.0)
    worst_last = max(last.values(), default=0.0)
    growth = max(((last[p] - first[p]) / first[p] for p in first if p in last), default=float("nan"))
    replaced = sorted(set(first) ^ set(last))
    rss_ok = worst_first <= TARGET_RSS_MB and worst_last <= TARGET_RSS_MB
    lines.append(
        f"worker RSS after {served - soak_requests:,} requests (all workers)"
        f"{'':<6}max {worst_first:.1f} MB  ({', '.join(f'{v:.1f}' for v in first.values())})"
        f"{'':<4}<= {TARGET_RSS_MB:g} MB{'':<8}{'PASS' if rss_ok else 'FAIL'}"
    )
    lines.append(
        f"  PSS (shared pages split between processes): max {max(first_pss.values(), default=0.0):.1f} MB "
        f"after {served - soak_requests:,} requests, {max(last_pss.values(), default=0.0):.1f} MB at the end"
    )
    ok &= rss_ok
    if args.soak_seconds > 0:
        growth_ok = not replaced and growth <= TARGET_RSS_GROWTH and soak_errors == 0
        lines.append(
            f"RSS growth over a {args.soak_seconds} s soak ({soak_requests:,} requests, {soak_errors} errors)"
            f"{'':<2}max {growth:+.1%}, end max {worst_last:.1f} MB"
            f"{'':<4}<= {TARGET_RSS_GROWTH:.0%}, 0 errors{'':<2}{'PASS' if growth_ok else 'FAIL'}"
        )
        if replaced:
            lines.append(f"  workers were replaced during the soak (pids {replaced}): see the gunicorn log")
        if load:
            lines.append(f"  load average (1 min) during the soak: {min(load):.2f} - {max(load):.2f}")
        ok &= growth_ok
    return lines, ok


def run(url: str, args: argparse.Namespace) -> tuple[list[str], bool]:
    """Measure over HTTP against a scratch copy of the database at ``url``; (lines, all passed)."""
    if getattr(args, "skip_http", False):
        return ["HTTP load benchmarks skipped (--skip-http)"], True
    if shutil.which("wrk") is None:
        return [
            "HTTP load benchmarks NOT RUN: wrk is missing (Debian/Ubuntu: apt-get install -y wrk)",
        ], False

    def say(text: str) -> None:
        print(text, flush=True)

    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    say(f"HTTP load benchmarks ({dialect}): copying the benchmark database ...")
    with scratch_database(url) as db_url, tempfile.TemporaryDirectory(prefix="credit-http-bench-") as tmp:
        folder = Path(tmp)
        port = _free_port()
        env = production_env(db_url, folder, port, args)
        requests = prepare_requests(env, args)
        files = {}
        for key, lines in requests.items():
            files[key] = folder / f"requests-{key}.txt"
            files[key].write_text("\n".join(lines) + "\n", encoding="utf-8")
        files["mix"] = folder / "requests-mix.txt"
        files["mix"].write_text("\n".join(_mix(requests, random.Random(SEED))) + "\n", encoding="utf-8")

        server = Server(
            {**env, "PROMETHEUS_MULTIPROC_DIR": str(folder / "prometheus")},
            port,
            folder / "gunicorn.log",
            args.http_workers,
        )
        load_start = _loadavg()
        rows: list[Row] = []
        served = 0
        try:
            server.start()
            say(f"  gunicorn on 127.0.0.1:{port}, workers {server.worker_pids()}")
            base_rps = 0.0
            for key, label in MEASURES:
                warm = run_wrk(port, files[key], args.http_warmup, args.http_connections, SEED)
                result = run_wrk(port, files[key], args.http_duration, args.http_connections, SEED + 1, server)
                served += warm.requests + result.requests
                if key == "baseline":
                    base_rps = result.rps
                rows.append(Row(label, result, _checks(key, result, base_rps)))
                say(
                    f"  {label}: {result.rps:.1f} req/s, p99 {result.p99_ms:.1f} ms, {result.errors} errors; "
                    f"CPU ms/request: app {result.cpu_ms_per_request(result.app_cpu_s):.2f}, "
                    f"database {result.cpu_ms_per_request(result.db_cpu_s):.2f}, "
                    f"wrk {result.cpu_ms_per_request(result.loadgen_cpu_s):.2f}"
                )
            say(f"  memory: mixed traffic up to {args.rss_requests:,} requests, then a {args.soak_seconds} s soak")
            memory, memory_ok = _soak(server, port, files["mix"], args, served, say)
            trace = server.first_traceback() if any(r.result.errors for r in rows) else ""
        finally:
            server.stop()
        load_end = _loadavg()

    base_rps = rows[0].result.rps
    header = (
        f"{'measure':<50}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>9}{'x base':>8}"
        f"{'wrk cpu':>8}{'load1':>7}   {'target':<38}result"
    )
    out = [
        f"HTTP under load — {dialect}: gunicorn deploy/gunicorn.conf.py, ENV=production, "
        f"{args.http_workers} workers x {args.http_threads} threads, wrk {args.http_connections} connections, "
        f"{args.http_duration:g} s each after {args.http_warmup:g} s warm-up",
        f"rate limits off (RATELIMIT_ENABLED=false), worker recycling off (GUNICORN_MAX_REQUESTS=0), no Redis; "
        f"{os.cpu_count()} CPUs shared by server and wrk; load average at start "
        f"{' '.join(f'{x:.2f}' for x in load_start)}, at end {' '.join(f'{x:.2f}' for x in load_end)}",
        "",
        header,
        "-" * len(header),
    ]
    out += [_format_row(row, base_rps) for row in rows]
    out += ["", f"CPU per request (ms), where the {os.cpu_count()} CPUs went: gunicorn | database server | wrk"]
    out += [
        f"  {row.label:<48}{r.cpu_ms_per_request(r.app_cpu_s):>7.3f} |{r.cpu_ms_per_request(r.db_cpu_s):>7.3f} |"
        f"{r.cpu_ms_per_request(r.loadgen_cpu_s):>7.3f}"
        for row in rows
        for r in (row.result,)
    ]
    out += ["", *memory]
    out.append(f"run on {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}; errors = non-2xx + socket errors")
    if trace:
        out += ["", "first error in the gunicorn log:", trace]
    return out, all(row.ok for row in rows) and memory_ok


def main(argv: list[str] | None = None) -> int:
    from bench.run import SQLITE_PATH, prepare_database

    parser = argparse.ArgumentParser(prog="python -m bench.http_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000, help="total records wanted (about)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the database even if reusable")
    add_arguments(parser)
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL") or "sqlite:///" + str(SQLITE_PATH)
    prepare_database(url, args)
    lines, ok = run(url, args)
    print()
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
