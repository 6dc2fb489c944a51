"""Every Flask extension, created once here and bound in the app factory."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_log = logging.getLogger(__name__)
db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
# Redis (REDIS_URL) keeps the counters shared by every process. When it cannot be reached the
# limits are kept in each process's memory instead of failing the request (a 500 for every
# public query while Redis is down): each process then counts on its own, so a client gets up to
# the limit times the number of processes, until Flask-Limiter's periodic check finds Redis back.
# The timeouts keep a Redis that hangs (rather than refuses) from holding every request.
# Flask-Limiter 4.1 options: https://flask-limiter.readthedocs.io/en/stable/configuration.html
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[],
    in_memory_fallback_enabled=True,
    storage_options={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
)
T = TypeVar("T")
_fallback_seen = False


def rate_limit_fallback_in_use() -> bool:
    """True while this process rate-limits in memory because the shared store is unreachable.

    Reads Flask-Limiter's ``_storage_dead`` (set when a storage call fails with the in-memory
    fallback enabled, cleared when its periodic check succeeds; Flask-Limiter 4.1 has no public
    accessor). tests/test_redis_outage.py fails if that attribute stops meaning this. The switch
    and the recovery are logged once each, with what runs on Redis, for the operator.
    """
    global _fallback_seen
    dead = bool(getattr(limiter, "_storage_dead", False)) and limiter.enabled
    if dead != _fallback_seen:
        _fallback_seen = dead
        if dead:
            _log.warning(
                "rate-limit store (REDIS_URL) unreachable: this process now keeps rate limits in memory "
                "(each process counts on its own) until Redis answers again"
            )
        else:
            _log.warning("rate-limit store (REDIS_URL) reachable again: rate limits are shared again")
    return dead


# --- One rate-limit budget per client for each kind of public question -----------------------
# Shared limits (one counter per scope and client address, whatever the route): an enumerating
# client gets RATELIMIT_PUBLIC once across the JSON API, the web pages and the mini-program,
# not once per route; the same for RATELIMIT_VERIFY across every way of checking a report.
def _public_limit() -> str:
    return current_app.extensions["settings"].RATELIMIT_PUBLIC


def _verify_limit() -> str:
    return current_app.extensions["settings"].RATELIMIT_VERIFY


def _skipped_when_disabled(limit: Callable[[Callable], Callable]) -> Callable[[Callable], Callable]:
    """``limit`` as a view decorator that costs nothing with RATELIMIT_ENABLED false.

    flask-limiter's own decorator identifies the request, resolves the limits and walks its meta
    limits on every call even when the extension is disabled, only to find none (about 0.1 ms a
    request, measured on the profile route); with the extension enabled it is called as is.
    """

    def decorate(view: Callable) -> Callable:
        limited = limit(view)

        @functools.wraps(view)
        def dispatch(*args, **kwargs):
            return limited(*args, **kwargs) if limiter.enabled else view(*args, **kwargs)

        return dispatch

    return decorate


# /api/v1/subjects..., /search, /subjects/<code>, /api/mp/v1/subjects...
public_query_limit = _skipped_when_disabled(limiter.shared_limit(_public_limit, scope="public-query"))
# /api/v1/verify, /v/<token>, POST /verify (QR, PDF or report number and code), /api/mp/v1/verify
verification_limit = _skipped_when_disabled(limiter.shared_limit(_verify_limit, scope="verification"))
verification_post_limit = _skipped_when_disabled(
    limiter.shared_limit(_verify_limit, scope="verification", methods=["POST"])
)


# --- Read replica for the public query ---------------------------------------------------------
# DATABASE_REPLICA_URL adds this bind. Flask-SQLAlchemy's model ``__bind_key__`` does not fit: the
# public query reads the same tables that every write needs on the primary, so it takes its own
# session on the replica engine instead (request-scoped, closed at app-context teardown).
REPLICA_BIND = "replica"
AUTOCOMMIT_ENGINES = "autocommit_engines"  # app.extensions: {engine: its twin in autocommit}


def has_replica() -> bool:
    return REPLICA_BIND in (current_app.config.get("SQLALCHEMY_BINDS") or {})


def read_session() -> Session:
    """A session for public reads: on the replica when one is configured, else ``db.session``."""
    if not has_replica():
        return db.session  # type: ignore[return-value]
    session = g.get("_replica_session")
    if session is None:
        session = Session(bind=db.engines[REPLICA_BIND])
        g._replica_session = session
    return session


def on_replica(query: Callable[[Connection], T], *, autocommit: bool = False) -> T:
    """Run a read-only ``query(connection)`` on the replica; if the replica fails (down, not yet
    migrated, lagging behind a migration), run it again on the primary, so a lost replica degrades
    to the one-database setup instead of failing the public query.

    The query gets a pooled Core connection of its own, not the request's ORM session: a public
    read needs no unit of work, and the session's begin, ORM execution path and close cost about
    as much as the profile's statement itself (0.19 against 0.12 ms a profile, measured on the
    benchmark database). The connection sees what is committed, which is all the public sees.
    With ``autocommit`` each statement of the query is its own snapshot, and PostgreSQL is spared
    the BEGIN and ROLLBACK round trips around them.
    """
    if not has_replica():
        return _run(db.engine, query, autocommit)
    try:
        return _run(db.engines[REPLICA_BIND], query, autocommit)
    except sa_exc.SQLAlchemyError as exc:
        _log.warning("read replica failed (%s); answering from the primary", type(exc).__name__)
        return _run(db.engine, query, autocommit)


def on_primary(query: Callable[[Connection], T], *, autocommit: bool = False) -> T:
    """``query(connection)`` on a pooled connection of the primary, as ``on_replica`` runs it: for
    hot read paths that must see the primary (report verification)."""
    return _run(db.engine, query, autocommit)


def _run(engine: Engine, query: Callable[[Connection], T], autocommit: bool) -> T:
    if autocommit and engine.dialect.name == "postgresql":  # SQLite has no such round trips
        engine = current_app.extensions[AUTOCOMMIT_ENGINES][engine]  # its twin (app._add_autocommit_engines)
    with engine.connect() as connection:
        return query(connection)


def close_read_session(_exc: BaseException | None = None) -> None:
    session = g.pop("_replica_session", None) if g else None
    if session is not None:
        session.close()
