"""No ID number in any log line, and none in a URL path.

ID numbers reach logs mostly through URLs: a request line in werkzeug's development server log,
gunicorn's access log (``%(U)s``, ``%(r)s``), a path quoted in our own error logs. Three layers:

* ``mask_id_numbers``: every ID-number-shaped run of characters in a text (18 characters of GB
  11643, first-generation 15-digit numbers too) masked as on every other surface
  (6203**********2516). An 18-digit USCC is masked too: an over-masked code in a log is harmless.
* ``IdNumberFilter``: a ``logging.Filter`` that masks a record's message, arguments and
  traceback; attach it to any handler (a handler's filters see every record it writes, whichever
  logger made it; a logger's filters only the records made at that very logger). For gunicorn:
  ``logconfig_dict`` handlers ``"filters": ["id_numbers"]`` with
  ``"filters": {"id_numbers": {"()": "backend.logging_privacy.IdNumberFilter"}}``.
* ``install_log_masking``: create_app masks every record of the process at its creation (a log
  record factory), so our loggers, werkzeug's, gunicorn's in the worker and any library's are
  covered without knowing their handlers.

``refuse_id_number_paths`` refuses a request whose path holds an ID number (natural persons have
no public page), before any view, with an answer that does not repeat the number.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Response, current_app, request

from .errors import ApiError, wants_json
from .identifiers import IdentifierError, validate_uscc
from .pii import redact_id_numbers

ID_NUMBER_IN_PATH_MESSAGE = "自然人不设公开信用页面，请勿在网址中填写身份证号码；个人信用信息请通过实名认证后查询"
# One path segment shaped like an ID number: 17 digits and a digit or X, or 15 digits.
_ID_NUMBER_SEGMENT = re.compile(r"(?:\d{17}[\dXx]|\d{15})")
_FORMATTER = logging.Formatter()


def mask_id_numbers(text: str) -> str:
    """``text`` with every ID-number-shaped run masked (pii.mask_id_number's form)."""
    return redact_id_numbers(text)


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging reports it when the record is written
        return
    masked = mask_id_numbers(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        # Formatter.format uses exc_text when set instead of formatting the traceback again.
        record.exc_text = mask_id_numbers(_FORMATTER.formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = mask_id_numbers(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_id_numbers(record.stack_info)


class IdNumberFilter(logging.Filter):
    """Masks ID numbers in every record it sees; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_record(record)
        return True


_installed = False


def install_log_masking() -> None:
    """Mask every log record of this process when it is made (idempotent). Costs one regular
    expression pass over each message that is logged at an enabled level."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _mask_record(record)
        return record

    logging.setLogRecordFactory(masking_factory)
    _installed = True


def _is_uscc(segment: str) -> bool:
    try:
        validate_uscc(segment, current_app.extensions["settings"].USCC_LEGACY_ALLOWLIST)
    except IdentifierError:
        return False
    return True


def refuse_id_number_paths() -> Response | None:
    """404 for a path with a segment shaped like an ID number that is not a valid USCC (an
    enterprise's code may be all digits: 11620300..., registration authority 1). Checked on the
    decoded path, so percent-encoding does not slip past."""
    for segment in request.path.split("/"):
        if len(segment) in (15, 18) and _ID_NUMBER_SEGMENT.fullmatch(segment) and not _is_uscc(segment):
            if wants_json():
                raise ApiError(ID_NUMBER_IN_PATH_MESSAGE, code="id_number_in_path", status=404)
            return Response(ID_NUMBER_IN_PATH_MESSAGE, 404, content_type="text/html; charset=utf-8")
    return None
