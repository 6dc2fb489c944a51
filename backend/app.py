"""The composition root: load and check config, bind extensions, register every channel."""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from typing import Any

import click
import sqlalchemy as sa
from apiflask import APIFlask
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from . import models  # noqa: F401  (every table known to the metadata and Alembic)
from .config import Settings, load_settings
from .db_session import TransactionalApp, rollback_leftovers
from .errors import ErrorSchema, register_error_handlers
from .extensions import AUTOCOMMIT_ENGINES, REPLICA_BIND, close_read_session, csrf, db, limiter
from .json_provider import OrjsonProvider
from .logging_privacy import install_log_masking, refuse_id_number_paths
from .metrics import init_metrics
from .pii import PiiCipher
from .request_guard import refuse_nul_characters

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


def create_app(config: dict[str, Any] | None = None) -> APIFlask:
    # Every view runs in the request's transaction: commit on success, roll back on error
    # (db_session.py; commit_refusal() keeps a refused attempt on record).
    app = TransactionalApp(
        "backend",
        title="信用金昌 公共信用信息服务平台 API",
        version="1.0",
        docs_path=None,  # APIFlask's page loads Swagger UI from a CDN: ours is api_docs.py
        spec_path="/openapi.json",
        instance_relative_config=True,
    )
    app.json = OrjsonProvider(app)  # Chinese as UTF-8 in JSON, not escapes; fast (json_provider.py)
    settings = load_settings(app.instance_path, config)
    _apply_settings(app, settings)
    _configure_logging(settings)

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            _ping_after_idle(engine, settings.DATABASE_PING_AFTER_IDLE_SECONDS)
        _add_autocommit_engines(app, settings)
    app.teardown_request(rollback_leftovers)
    app.teardown_appcontext(close_read_session)
    if settings.ENV != "production" or click.get_current_context(silent=True) is not None:
        init_migrations(app)
    csrf.init_app(app)
    limiter.init_app(app)
    app.extensions["pii"] = PiiCipher(settings.PII_ENCRYPTION_KEYS, settings.PII_HASH_KEY, settings.CRYPTO_SUITE)
    app.extensions["settings"] = settings

    register_error_handlers(app)
    app.url_map.converters["int"] = DatabaseIntConverter
    app.before_request(refuse_id_number_paths)  # before the other guards and every view
    app.before_request(refuse_nul_characters)
    _register_blueprints(app)
    _register_cli(app)
    _register_security_headers(app)
    init_metrics(app)
    _hide_plain_blueprints_from_openapi(app)
    if settings.TRUSTED_PROXY_HOPS:
        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, settings.TRUSTED_PROXY_HOPS, settings.TRUSTED_PROXIES
        )
    return app


class TrustedProxyFix:
    """The client's address (rate limits, audit rows, /metrics networks) and https come from the
    proxy's X-Forwarded-* headers, trusting exactly ``hops`` hops and no more, and only on a
    connection from one of the ``trusted`` addresses (the proxies). A request from any other
    peer keeps that peer's address: its X-Forwarded-* headers are ignored, so a host that
    reaches gunicorn directly cannot claim 127.0.0.1 or pick its rate-limit bucket."""

    def __init__(self, wsgi_app: Any, hops: int, trusted: tuple[str, ...]) -> None:
        self.direct = wsgi_app
        self.proxied = ProxyFix(wsgi_app, x_for=hops, x_proto=hops, x_host=0)
        self.trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._from_a_proxy(environ.get("REMOTE_ADDR") or ""):
            return self.proxied(environ, start_response)
        return self.direct(environ, start_response)

    def _from_a_proxy(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:  # a Unix socket or no address: not a configured proxy
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)


class DatabaseIntConverter(IntegerConverter):
    """``<int:...>`` of at most 9 digits, which an INTEGER id column (PostgreSQL int4) holds: a
    longer number in a URL matches no route (404, like any unknown id) instead of overflowing in
    the database driver (a 500). A regex, not ``max``: werkzeug answers 405 when a converter
    refuses a value on a path that has rules for other methods."""

    regex = r"\d{1,9}"


def _apply_settings(app: APIFlask, settings: Settings) -> None:
    os.makedirs(app.instance_path, exist_ok=True)
    url = _normalise_database_url(settings.DATABASE_URL or "sqlite:///" + os.path.join(app.instance_path, "credit.db"))
    engine_options = _engine_options(url)
    binds: dict[str, Any] = {}
    if settings.DATABASE_REPLICA_URL:
        replica = _normalise_database_url(settings.DATABASE_REPLICA_URL)
        binds[REPLICA_BIND] = {"url": replica, **_engine_options(replica)}
    app.config.update(
        SQLALCHEMY_BINDS=binds,
        ENV_NAME=settings.ENV,
        TESTING=settings.ENV == "testing",
        SECRET_KEY=settings.SECRET_KEY,
        SQLALCHEMY_DATABASE_URI=url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options,
        MAX_CONTENT_LENGTH=settings.MAX_CONTENT_LENGTH,
        RATELIMIT_ENABLED=settings.RATELIMIT_ENABLED,
        RATELIMIT_STORAGE_URI=settings.REDIS_URL or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="credit-rl",
        # The JSON APIs are authenticated by signatures or tokens, not cookies: CSRF guards
        # the cookie-authenticated admin forms only (checked explicitly there).
        WTF_CSRF_CHECK_DEFAULT=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.PUBLIC_BASE_URL.startswith("https://"),
        SESSION_COOKIE_NAME="credit_session",
        AUTO_404_RESPONSE=False,
        VALIDATION_ERROR_STATUS_CODE=422,
        HTTP_ERROR_SCHEMA=ErrorSchema,
        VALIDATION_ERROR_SCHEMA=ErrorSchema,
        SPEC_FORMAT="json",
        INFO={
            "description": "金昌市公共信用信息服务平台：公共查询、部门数据报送、报告核验等接口。"
            '错误统一为 {"error": {"code", "message", "details"}}。'
        },
    )
    for key, value in settings.extra.items():
        app.config[key] = value


def _normalise_database_url(url: str) -> str:
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _engine_options(url: str) -> dict[str, Any]:
    # hide_parameters: a database error's text (logged) never carries the statement's values,
    # which can be personal data.
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}, "hide_parameters": True}
    return {"hide_parameters": True}  # stale connections: _ping_after_idle


def _ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Test a pooled PostgreSQL connection before use when it has been idle for ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` tests every checkout: a round trip more per request (about
    0.05 ms and a share of the database server's CPU; every public request checks a connection
    out). The connections that break unseen are the idle ones: a restart or failover at night
    leaves the whole pool dead, and each is tested and replaced here before a request uses it.
    A connection that breaks while in steady use fails its statement instead: SQLAlchemy then
    discards it and every connection older than the failure, and that request gets the 503 with
    Retry-After (errors.py); the next ones connect afresh.
    """
    if engine.dialect.name == "sqlite":  # a file: nothing to reconnect to
        return

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection, connection_record) -> None:
        connection_record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, connection_record, connection_proxy) -> None:
        idle_since = connection_record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # just connected, or in use moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()  # the ping began a transaction; the request starts clean
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (a new one if need be).
            raise sa_exc.DisconnectionError(f"idle connection failed its ping: {type(exc).__name__}") from exc


def _add_autocommit_engines(app: APIFlask, settings: Settings) -> None:
    """PostgreSQL: beside each engine, one whose pooled connections are in autocommit from the
    start, for the public reads (``extensions.on_replica``/``on_primary`` with ``autocommit``).

    Switching a connection of the shared pool to autocommit and back on every public request
    (SQLAlchemy's isolation-level option, then its reset and the pool's rollback on return) cost
    about 0.04 ms of the web worker's CPU a request, measured on the benchmark database: a tenth
    of a profile request's own work. The twin has its own small pool (connections are made on
    demand, at most the requests a process serves at once), the same options, the same ping
    after idle, and is disposed with its engine."""
    twins = {}
    for key, engine in db.engines.items():
        if engine.dialect.name != "postgresql":
            continue  # SQLite: no transaction round trips to spare
        if key is None:
            options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        else:
            options = {k: v for k, v in app.config["SQLALCHEMY_BINDS"][key].items() if k != "url"}
        twin = sa.create_engine(engine.url, **options, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
        _ping_after_idle(twin, settings.DATABASE_PING_AFTER_IDLE_SECONDS)
        event.listen(engine, "engine_disposed", lambda _engine, twin=twin: twin.dispose())
        twins[engine] = twin
    app.extensions[AUTOCOMMIT_ENGINES] = twins


def init_migrations(app: APIFlask) -> None:
    """Flask-Migrate (``flask db``, ``flask_migrate.upgrade()``) for this app, once.

    A production web worker never migrates: outside the command line it does not import
    Flask-Migrate, whose alembic, mako and pygments are about 12 MB of every worker's memory.
    The ``flask`` command line (any environment) and development and test apps have it.
    """
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        Migrate(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)


def _configure_logging(settings: Settings) -> None:
    level = getattr(logging, settings.LOG_LEVEL.upper(), logging.INFO)
    logging.getLogger("backend").setLevel(level)
    # ID numbers masked in every record of the process: ours, werkzeug's, gunicorn's, libraries'.
    install_log_masking()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:  # pragma: no cover - driver hook
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _register_blueprints(app: APIFlask) -> None:
    from .api_docs import bp as api_docs_bp
    from .dept_api.views import bp as dept_bp
    from .health import bp as health_bp
    from .issued_reports.views import api as verify_api_bp
    from .issued_reports.views import pages as verify_pages_bp
    from .public_api.views import bp as public_bp
    from .public_web.views import bp as public_web_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(api_docs_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(public_web_bp)
    app.register_blueprint(dept_bp)
    app.register_blueprint(_console())
    app.register_blueprint(verify_pages_bp)
    app.register_blueprint(verify_api_bp)
    _register_wechat(app)
    _register_kiosk(app)


def _console():
    """The staff console (/admin): each area is a blueprint of its own, nested in one parent
    that holds the shared role check, base template and error page (admin/console.py)."""
    from kiosk.console_views import bp as kiosks_area
    from miniprogram_api.console_views import bp as wechat_area

    from .admin import (
        audit_views,
        auth_views,
        calendar_views,
        case_views,
        dashboard_views,
        department_views,
        import_views,
        record_views,
        staff_views,
        subject_views,
    )
    from .admin.console import make_console
    from .issued_reports.console_views import bp as reports_area

    areas = [
        auth_views.bp,
        dashboard_views.bp,
        case_views.bp,
        subject_views.bp,
        record_views.bp,
        import_views.bp,
        department_views.bp,
        calendar_views.bp,
        audit_views.bp,
        staff_views.bp,
        reports_area,
        kiosks_area,
        wechat_area,
    ]
    return make_console(areas)


def _register_wechat(app: APIFlask) -> None:
    """The WeChat channel (miniprogram_api/): mini-program API, official account callbacks, and
    its outbox handlers (subscribe messages)."""
    from miniprogram_api import alerts, notifications, oa
    from miniprogram_api.views import bp as mp_bp
    from miniprogram_api.views import oa_bp

    app.register_blueprint(mp_bp)
    app.register_blueprint(oa_bp)
    notifications.register(app)
    alerts.register()  # WeChat configuration errors as a console banner
    oa.register(app)  # official-account answers sent as customer-service messages


def _register_kiosk(app: APIFlask) -> None:
    """The kiosk channel (kiosk/): touchscreen pages, the agent's API and its /metrics gauges
    (its fleet pages are a console area, above)."""
    from kiosk import metrics as kiosk_metrics
    from kiosk.views import bp as kiosk_bp

    app.register_blueprint(kiosk_bp)
    kiosk_metrics.register()  # its gauges on /metrics


def _hide_plain_blueprints_from_openapi(app: APIFlask) -> None:
    # APIFlask reads ``enable_openapi`` on every blueprint when it builds the spec; plain Flask
    # blueprints (HTML pages) have none and would make /openapi.json fail.
    for blueprint in app.blueprints.values():
        if not hasattr(blueprint, "enable_openapi"):
            blueprint.enable_openapi = False


def _register_cli(app: APIFlask) -> None:
    from .cli import credit_cli

    app.cli.add_command(credit_cli)
    from miniprogram_api.cli import wechat_cli

    app.cli.add_command(wechat_cli)


def _register_security_headers(app: APIFlask) -> None:
    https = app.extensions["settings"].PUBLIC_BASE_URL.startswith("https://")

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Every page, the API docs too (Swagger UI is vendored: api_docs.py), loads only from here.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        if https:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
