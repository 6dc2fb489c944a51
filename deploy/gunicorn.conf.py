"""gunicorn settings for the web processes (deploy/credit-web.service; docs/deployment.md).

Everything can be tuned from the environment file without editing this one:
GUNICORN_BIND, WEB_CONCURRENCY (processes), GUNICORN_THREADS, GUNICORN_TIMEOUT,
GUNICORN_MAX_REQUESTS, GUNICORN_MALLOC_THRESHOLD. With PROMETHEUS_MULTIPROC_DIR set, /metrics adds up all processes.
"""

import ctypes
import logging
import os
import re
from pathlib import Path

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# More than one thread makes gunicorn use gthread workers: a process keeps serving while one
# request waits on the database or on storage.
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Report issuing (render + sign + store) is the slowest request; nginx waits 60 s for us.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5  # nginx keeps upstream connections open (deploy/nginx.conf, keepalive 32)
# Recycle a process now and then so that slow growth (fonts, caches) never becomes an outage;
# the jitter keeps the processes from restarting together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# Only nginx on this box may tell us the scheme (X-Forwarded-Proto); the client address is
# taken from X-Forwarded-For by the app itself (TRUSTED_PROXY_HOPS).
forwarded_allow_ips = "127.0.0.1,::1"
accesslog = "-"
# Path only (%(U)s), never the request line (%(r)s), the query string (%(q)s) or the referrer
# (%(f)s, the previous page's URL): a query may carry a name or an ID number being looked up.
# The path itself is masked too (PrivacyLogger below). The same fields as nginx's
# credit_privacy format (deploy/nginx.conf); the client is the address nginx forwarded.
access_log_format = '%({x-forwarded-for}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %({x-request-id}i)s'
errorlog = "-"
capture_output = True
# gunicorn's runtime control socket (in the service user's home by default) is not used:
# systemctl reload/restart manage the processes, and one interface less to protect.
control_socket_disable = True
# glibc raises its mmap threshold each time a large block is freed (up to 32 MB) and then keeps
# such blocks in the heap after they are freed: rendering a report (font subsets, page
# streams, the signed file) leaves a process holding memory it no longer uses. A fixed
# threshold returns large blocks to the system when they are freed (0: glibc's default).
malloc_threshold = int(os.environ.get("GUNICORN_MALLOC_THRESHOLD", str(128 * 1024)))


# A run of 15 or more digits, with a final check character: an 18- or 15-digit resident ID
# number (GB 11643-1999). Also a bank card or a long phone run: masking those too costs nothing.
_ID_NUMBER_RUN = re.compile(r"[0-9]{15,}[0-9Xx]?")


def without_id_numbers(text: str) -> str:
    return _ID_NUMBER_RUN.sub("*", text)


class _MaskIdNumbers(logging.Filter):
    """Masks ID numbers in a record's final text. gunicorn's error log can name a request's URI,
    query string included ("Error handling request /search?q=..."), and the access log's path
    is whatever the client sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = without_id_numbers(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = without_id_numbers(logging.Formatter().formatException(record.exc_info))
        return True


class PrivacyLogger(Logger):
    """gunicorn's logger with both of its logs passed through ``_MaskIdNumbers``."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, _MaskIdNumbers) for f in log.filters):
                log.addFilter(_MaskIdNumbers())


logger_class = PrivacyLogger


def _multiproc_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def on_starting(server):
    """Values left by the processes of a previous run would be added to this run's: clear them."""
    folder = _multiproc_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()


def post_fork(server, worker):
    if malloc_threshold > 0:
        _fixed_malloc_thresholds(malloc_threshold)


def _fixed_malloc_thresholds(size: int) -> bool:
    """mallopt(M_MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD) in this process; False where the C
    library is not glibc (nothing is changed there)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, size)) and bool(mallopt(m_trim_threshold, size))


def child_exit(server, worker):
    """A finished process keeps its counters in the sum but its live gauges are dropped, and its
    files are folded into one archive file per kind: each recycled process (every
    GUNICORN_MAX_REQUESTS requests) would otherwise leave two files behind for good, in a tmpfs,
    and every scrape reads them all."""
    folder = _multiproc_dir()
    if folder is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, str(folder))
        fold_dead_process_files(folder, worker.pid)


# Kinds whose values add up across processes (gauges are dropped above or kept per pid).
_SUMMED_KINDS = ("counter", "histogram", "summary")


def fold_dead_process_files(folder: Path, pid: int) -> None:
    """Adds a dead process's counter, histogram and summary values into <kind>_archive.db (which
    the collector reads like any other process's file) and removes its files. Runs in the
    arbiter, the archive's only writer, one process at a time."""
    from prometheus_client.mmap_dict import MmapedDict

    for kind in _SUMMED_KINDS:
        dead = folder / f"{kind}_{pid}.db"
        if not dead.exists():
            continue
        archive = MmapedDict(str(folder / f"{kind}_archive.db"))
        try:
            for key, value, timestamp, _pos in MmapedDict.read_all_values_from_file(str(dead)):
                total, last = archive.read_value(key)
                archive.write_value(key, total + value, max(last, timestamp))
        finally:
            archive.close()
        dead.unlink()
