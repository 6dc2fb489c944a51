"""Signed requests from department systems (HMAC-SHA256 or HMAC-SM3 over method, path, query,
time, nonce, body).

A department system sends four headers:

- ``X-Credit-Key``: the key id issued in the admin console (``dk_...``);
- ``X-Credit-Timestamp``: Unix time in seconds, within DEPT_API_MAX_CLOCK_SKEW_SECONDS of ours;
- ``X-Credit-Nonce``: 16-64 characters ``[A-Za-z0-9_-]``, never reused with the same key;
- ``X-Credit-Signature``: lower-case hex HMAC-SHA256 with the key's secret over
  ``METHOD + "\\n" + PATH + "\\n" + QUERY + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + hex(sha256(body))``,
  where PATH is the request path without the query string (e.g. ``/api/dept/v1/records``),
  QUERY the canonical query string (``canonical_query``; empty when there is none) and body the
  exact bytes sent (empty for GET).

The canonical query string is the one of AWS Signature Version 4 (docs.aws.amazon.com,
"Create a canonical request"), with ``+`` read as a space as in any HTML form query: split on
``&`` (empty parts dropped), each part into name and value at the first ``=`` (no ``=``: empty
value), each percent-decoded to bytes and encoded again with every byte but ``A-Z a-z 0-9 - _ . ~``
as ``%XX`` (upper-case hex), the pairs sorted by encoded name then value, joined as
``name=value`` with ``&``. ``b=2&a=1&c=金 川`` signs as ``a=1&b=2&c=%E9%87%91%20%E5%B7%9D``.

HMAC-SM3 (国密, GB/T 15852.2-2012 MAC algorithm 2 with SM3, GB/T 32905-2016) is the other signature
method: the client adds ``X-Credit-Signature-Method: HMAC-SM3``, and then both the HMAC and the
body digest of the last line use SM3 (``hex(sm3(body))``). Without the header the method is
HMAC-SHA256. Both are accepted in either crypto suite, so departments move at their own pace;
with ``CRYPTO_SUITE=sm`` and ``DEPT_API_REQUIRE_SM3`` on, HMAC-SHA256 is refused
(``signature_method_refused``).

The query line was added before any department had integrated (issue 14): there is no older
form to stay compatible with, and a signature without it (five lines) is refused as
``invalid_signature`` like any other.

``sign_request`` is the reference implementation for integrators and tests. Nonces are kept in
ApiNonce until their timestamp window closes, so a captured request cannot be replayed; the
nonce row is committed together with the request's effects.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import time
from urllib.parse import quote_from_bytes, unquote_to_bytes

import sqlalchemy as sa
from flask import current_app, request
from sqlalchemy.exc import IntegrityError

from ..crypto.primitives import digest, mac
from ..crypto.suite import Suite, current_suite
from ..departments.models import ApiNonce, Department, DepartmentApiKey
from ..departments.operations import api_key_secret, find_active_key
from ..errors import Forbidden, Unauthorized
from ..extensions import db
from ..imports import messages as msg
from ..types import utcnow

KEY_HEADER = "X-Credit-Key"
TIMESTAMP_HEADER = "X-Credit-Timestamp"
NONCE_HEADER = "X-Credit-Nonce"
SIGNATURE_HEADER = "X-Credit-Signature"
METHOD_HEADER = "X-Credit-Signature-Method"
HMAC_SHA256 = "HMAC-SHA256"
HMAC_SM3 = "HMAC-SM3"
SIGNATURE_METHODS = {HMAC_SHA256: "sha256", HMAC_SM3: "sm3"}  # method -> the body digest's hash
HEADERS = (KEY_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _canonical_part(raw: bytes) -> str:
    return quote_from_bytes(unquote_to_bytes(raw.replace(b"+", b" ")), safe="-_.~")


def canonical_query(query: str | bytes) -> str:
    """The query string as signed (module docstring): linear in its length, one sort."""
    raw = query.encode() if isinstance(query, str) else query
    pairs = []
    for part in raw.split(b"&"):
        if part:
            name, _, value = part.partition(b"=")
            pairs.append((_canonical_part(name), _canonical_part(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def string_to_sign(
    method: str,
    path: str,
    timestamp: str | int,
    nonce: str,
    body: bytes,
    *,
    query: str | bytes = "",
    algorithm: str = HMAC_SHA256,
) -> str:
    body_digest = digest(SIGNATURE_METHODS[algorithm], body).hex()
    return "\n".join((method.upper(), path, canonical_query(query), str(timestamp), nonce, body_digest))


def sign_request(
    secret: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: str | int,
    nonce: str,
    *,
    query: str | bytes = "",
    algorithm: str = HMAC_SHA256,
) -> str:
    """The X-Credit-Signature value for a request (hex HMAC-SHA256, or HMAC-SM3)."""
    message = string_to_sign(method, path, timestamp, nonce, body, query=query, algorithm=algorithm)
    return mac(algorithm, secret.encode(), message.encode()).hex()


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    algorithm: str = HMAC_SHA256,
    **overrides: str,
) -> dict:
    """All headers for a request to ``url`` (a path with its query string, if any) signed now
    with a fresh nonce (client convenience); HMAC-SM3 adds the method header."""
    import secrets

    path, _, query = url.partition("?")
    timestamp = overrides.get("timestamp") or str(int(time.time()))
    nonce = overrides.get("nonce") or secrets.token_hex(16)
    headers = {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign_request(secret, method, path, body, timestamp, nonce, query=query, algorithm=algorithm),
    }
    if algorithm != HMAC_SHA256:
        headers[METHOD_HEADER] = algorithm
    return headers


def authenticate_request() -> tuple[Department, DepartmentApiKey]:
    """Check the current request's signature headers; raise Unauthorized with the exact cause.

    Order matters: the nonce is recorded only once the signature is proven, so a stranger
    cannot burn a department's nonces.
    """
    settings = current_app.extensions["settings"]
    missing = [name for name in HEADERS if not request.headers.get(name)]
    if missing:
        raise Unauthorized(
            msg.MISSING_CREDENTIALS.format(headers="、".join(missing)),
            code="missing_credentials",
            details={"missing": missing},
        )
    key_id = request.headers[KEY_HEADER].strip()
    raw_timestamp = request.headers[TIMESTAMP_HEADER].strip()
    nonce = request.headers[NONCE_HEADER].strip()
    signature = request.headers[SIGNATURE_HEADER].strip().lower()

    key = find_active_key(key_id[:40])
    if key is None:
        raise Unauthorized(msg.UNKNOWN_KEY, code="unknown_key")
    if not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise Unauthorized(msg.BAD_TIMESTAMP, code="stale_timestamp")
    timestamp = int(raw_timestamp)
    skew = settings.DEPT_API_MAX_CLOCK_SKEW_SECONDS
    if abs(time.time() - timestamp) > skew:
        raise Unauthorized(
            msg.STALE_TIMESTAMP.format(seconds=skew), code="stale_timestamp", details={"server_time": int(time.time())}
        )
    if not NONCE_PATTERN.fullmatch(nonce):
        raise Unauthorized(msg.BAD_NONCE, code="invalid_nonce")

    algorithm = (request.headers.get(METHOD_HEADER) or HMAC_SHA256).strip().upper()
    if algorithm not in SIGNATURE_METHODS:
        raise Unauthorized(msg.BAD_SIGNATURE_METHOD, code="invalid_signature_method")
    if algorithm == HMAC_SHA256 and settings.DEPT_API_REQUIRE_SM3 and current_suite() is Suite.SM:
        raise Unauthorized(msg.SIGNATURE_METHOD_REFUSED, code="signature_method_refused")
    body = request.get_data(cache=True)
    expected = sign_request(
        api_key_secret(key),
        request.method,
        request.path,
        body,
        raw_timestamp,
        nonce,
        query=request.query_string,
        algorithm=algorithm,
    )
    if not hmac.compare_digest(expected, signature):
        raise Unauthorized(msg.INVALID_SIGNATURE, code="invalid_signature")

    _use_nonce(key.key_id, nonce, timestamp, skew)
    department = key.department
    if not department.is_active:
        raise Forbidden(msg.DEPARTMENT_INACTIVE, code="department_inactive")
    key.last_used_at = utcnow()
    return department, key


def _use_nonce(key_id: str, nonce: str, timestamp: int, skew: int) -> None:
    now = utcnow()
    # Opportunistic purge: a nonce is only needed while its timestamp could still be accepted.
    db.session.execute(
        sa.delete(ApiNonce).where(ApiNonce.expires_at < now).execution_options(synchronize_session=False)
    )
    seen = db.session.scalar(sa.select(ApiNonce.id).where(ApiNonce.key_id == key_id, ApiNonce.nonce == nonce))
    if seen is not None:
        raise Unauthorized(msg.REPLAYED_NONCE, code="replayed_nonce")
    expires = dt.datetime.fromtimestamp(timestamp + skew, dt.UTC).replace(tzinfo=None)
    db.session.add(ApiNonce(key_id=key_id, nonce=nonce, expires_at=max(expires, now)))
    try:
        db.session.flush()
    except IntegrityError:
        # Two concurrent requests with one nonce: the unique constraint lets only one through.
        db.session.rollback()
        raise Unauthorized(msg.REPLAYED_NONCE, code="replayed_nonce") from None
