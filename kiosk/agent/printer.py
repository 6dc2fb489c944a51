"""Printing through CUPS with its command-line clients: ``lp`` submits, the job is followed
until CUPS says it completed or failed, and the printer's state reasons tell why.

* ``lp -d QUEUE -o media=A4 -t TITLE FILE`` submits and prints ``request id is QUEUE-N``;
* ``lpstat -o QUEUE`` lists the jobs not completed yet: while ours is there it is still
  pending or printing;
* once it has left that list, ``ipptool`` asks CUPS for its ``job-state`` (completed, or
  canceled / aborted), because ``lpstat`` shows finished jobs the same way whatever their end;
* ``lpoptions -p QUEUE`` gives ``printer-state`` and ``printer-state-reasons`` (IPP keywords
  that drivers and backends set: ``media-empty-error``, ``media-jam-error``, ``offline-report``).

A printer that stops with a fault while our job waits (out of paper, jammed, offline) gets the
job cancelled: otherwise the report would come out unnoticed after the next refill, to whoever
stands at the kiosk then, and it would not have been counted as printed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

READY, PAPER_OUT, JAMMED, OFFLINE = "ready", "paper_out", "jammed", "offline"
_REQUEST_ID = re.compile(r"request id is (\S+)")
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_IPP_GET_JOB = """{
OPERATION Get-Job-Attributes
GROUP operation-attributes-tag
ATTR charset attributes-charset utf-8
ATTR naturalLanguage attributes-natural-language en
ATTR uri printer-uri $uri
ATTR integer job-id $job_id
ATTR keyword requested-attributes job-state,job-state-reasons
}
"""


@dataclass(frozen=True)
class PrinterStatus:
    state: str  # ready | paper_out | jammed | offline
    message: str = ""
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrintOutcome:
    ok: bool
    queue: str
    cups_job_id: str | None
    pages: int
    printer: PrinterStatus
    error: str = ""


def _run(*args: str, timeout: float = 15) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603


def _options(queue: str) -> dict[str, str]:
    result = _run("lpoptions", "-p", queue)
    values: dict[str, str] = {}
    for token in shlex.split(result.stdout or ""):
        key, _, value = token.partition("=")
        values[key] = value
    return values


def state_from_reasons(printer_state: str | None, reasons: tuple[str, ...]) -> str:
    """Map IPP printer-state (3 idle, 4 processing, 5 stopped) and its reasons to our four states."""
    if printer_state is None:
        return OFFLINE  # the queue does not exist or CUPS does not answer
    if any(r.startswith(("media-empty", "media-needed")) for r in reasons):
        return PAPER_OUT
    if any(r.startswith("media-jam") for r in reasons):
        return JAMMED
    if any(r.startswith(("offline", "shutdown", "connecting-to-device", "cups-missing-filter")) for r in reasons):
        return OFFLINE
    if printer_state == "5":
        return OFFLINE  # stopped for a reason we cannot name: not usable either way
    return READY


def printer_status(queue: str) -> PrinterStatus:
    try:
        options = _options(queue)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return PrinterStatus(OFFLINE, f"CUPS 不可用：{exc}")
    raw = options.get("printer-state-reasons", "none")
    reasons = tuple(r for r in raw.split(",") if r and r != "none")
    state = state_from_reasons(options.get("printer-state"), reasons)
    message = ""
    if state != READY:
        lines = _run("lpstat", "-p", queue).stdout.splitlines()
        message = " ".join(line.strip() for line in lines[1:] if line.strip())[:200] or ",".join(reasons)
    return PrinterStatus(state, message, reasons)


def count_pages(pdf: bytes) -> int:
    return max(1, len(_PAGE.findall(pdf)))


def _still_queued(queue: str, request_id: str) -> bool:
    listing = _run("lpstat", "-o", queue).stdout
    return any(line.split()[:1] == [request_id] for line in listing.splitlines())


def _final_job_state(queue: str, job_number: str, server: str) -> str:
    """completed | canceled | aborted | unknown, from CUPS over IPP (ipptool)."""
    with tempfile.NamedTemporaryFile("w", suffix=".test", delete=False) as test:
        test.write(_IPP_GET_JOB)
    try:
        result = _run(
            "ipptool", "-t", "-v", "-d", f"job_id={job_number}", f"ipp://{server}/printers/{queue}", test.name
        )
    finally:
        os.unlink(test.name)
    match = re.search(r"job-state \(enum\) = (\S+)", result.stdout)
    return match.group(1) if match else "unknown"


def print_pdf(
    pdf: bytes,
    queue: str,
    *,
    title: str,
    timeout: float = 120,
    poll: float = 0.5,
    server: str | None = None,
) -> PrintOutcome:
    """Send ``pdf`` to ``queue`` and wait until CUPS says it printed or failed. The temporary
    file is removed in every case: no copy of a citizen's report stays on the kiosk PC."""
    server = server or os.environ.get("CUPS_SERVER") or "localhost"
    pages = count_pages(pdf)
    before = printer_status(queue)
    if before.state != READY:
        return PrintOutcome(False, queue, None, pages, before, before.message or before.state)
    folder = tempfile.mkdtemp(prefix="kiosk-print-")
    path = Path(folder) / "document.pdf"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pdf)
        submitted = _run("lp", "-d", queue, "-o", "media=A4", "-t", title, str(path))
        match = _REQUEST_ID.search(submitted.stdout or "")
        if submitted.returncode != 0 or match is None:
            status = printer_status(queue)
            error = (submitted.stderr or submitted.stdout or "lp failed").strip()[:200]
            return PrintOutcome(False, queue, None, pages, status, error)
        request_id = match.group(1)
        job_number = request_id.rsplit("-", 1)[-1]
        deadline = time.monotonic() + timeout
        while _still_queued(queue, request_id):
            status = printer_status(queue)
            if status.state != READY or time.monotonic() > deadline:
                _run("cancel", request_id)
                if status.state == READY:
                    status = PrinterStatus(OFFLINE, "打印超时")
                return PrintOutcome(False, queue, request_id, pages, status, status.message or status.state)
            time.sleep(poll)
        final = _final_job_state(queue, job_number, server)
        status = printer_status(queue)
        if final == "completed":
            return PrintOutcome(True, queue, request_id, pages, status)
        return PrintOutcome(False, queue, request_id, pages, status, f"job {final}")
    finally:
        path.unlink(missing_ok=True)
        os.rmdir(folder)
