"""Typed configuration: defaults in code, secrets from the environment, checked at start-up.

Every setting can be overridden by an environment variable of the same name (``CREDIT_`` prefix
optional for the non-secret ones, e.g. ``CREDIT_REPORT_VALIDITY_DAYS``). Secrets are never given
defaults: production refuses to start without them, development generates throw-away ones into
``instance/dev-secrets.json`` and says so.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from backend.crypto.suite import Suite, algorithms, parse_suite
from backend.instance_lock import instance_lock

log = logging.getLogger(__name__)

SECRET_NAMES = ("SECRET_KEY", "PII_ENCRYPTION_KEYS", "PII_HASH_KEY")


class ConfigError(RuntimeError):
    """Raised when the configuration cannot be used; the message names the setting."""


@dataclass
class Settings:
    ENV: str = "development"  # development | production | testing
    DATABASE_URL: str = ""  # empty: sqlite file in the instance folder
    # A read replica for the public query (search, profiles); empty: everything on DATABASE_URL.
    # Writes, verification and every personal-data read stay on DATABASE_URL.
    DATABASE_REPLICA_URL: str = ""
    # PostgreSQL: a pooled connection unused for this long is tested (SELECT 1) before a request
    # gets it, so one left broken by a restart or failover is replaced unseen. 0: test every one.
    DATABASE_PING_AFTER_IDLE_SECONDS: int = 10
    REDIS_URL: str = ""  # empty: in-process / database fallbacks
    PUBLIC_BASE_URL: str = "http://127.0.0.1:5000"
    LOG_LEVEL: str = "INFO"
    # The city's crypto suite: "international" (AES-GCM, Ed25519, SHA-256) or "sm" (国密: SM4,
    # SM2, SM3). Artefacts of both suites keep verifying; docs/cryptography.md has the switch.
    CRYPTO_SUITE: str = "international"

    # Secrets (never defaulted in production).
    SECRET_KEY: str = ""
    # "kid:base64key[,kid:sm4:base64key...]": 32-byte keys are AES-256-GCM, "sm4:" ones 16-byte
    # SM4-GCM. The first key of the CRYPTO_SUITE's cipher encrypts; every key decrypts.
    PII_ENCRYPTION_KEYS: str = ""
    # Keys the look-up hashes: HMAC-SHA256, or HMAC-SM3 when written "sm3:<secret>". A keyed hash
    # cannot be converted to another algorithm without its plaintext: docs/cryptography.md.
    PII_HASH_KEY: str = ""

    # Public query and rate limits.
    RATELIMIT_PUBLIC: str = "120/minute;2000/hour"
    RATELIMIT_ENABLED: bool = True
    SEARCH_PAGE_SIZE: int = 20
    SEARCH_MAX_PAGE_SIZE: int = 100
    MAX_CONTENT_LENGTH: int = 20 * 1024 * 1024

    # Publicity periods in months (DOMAIN.md, NDRC Order No. 36).
    PUBLICITY_MINOR_PUBLISHED: bool = False
    PUBLICITY_MINOR_MAX_MONTHS: int = 3
    PUBLICITY_GENERAL_MIN_MONTHS: int = 3
    PUBLICITY_GENERAL_MAX_MONTHS: int = 12
    PUBLICITY_SERIOUS_MIN_MONTHS: int = 12
    PUBLICITY_SERIOUS_MAX_MONTHS: int = 36
    # When a department sends no publicity end date: "max" or "min" of the tier's range.
    PUBLICITY_DEFAULT_END: str = "max"
    NEGATIVE_DISCLOSURE_YEARS: int = 5
    DOUBLE_PUBLICITY_WORKING_DAYS: int = 7
    # The tier of a penalty sent without one (the national templates have no tier column):
    # backend/imports/tier_rule.py, with the articles. The derived tier is marked and listed for
    # the department to confirm; a tier the file carries wins.
    # 轻微: every penalty kind (处罚类别, split on 、) is one of these (行政处罚法 art. 9 (一)) ...
    TIER_RULE_MINOR_PENALTY_KINDS: tuple[str, ...] = ("警告", "通报批评")
    # ... or one of these words is in 处罚内容 / 处罚类别 / 备注 (简易程序: 行政处罚法 art. 51).
    TIER_RULE_MINOR_MARKERS: tuple[str, ...] = ("简易程序",)
    # 严重: the penalty kind contains one of these (行政处罚法 art. 9 (四)-(五)) ...
    TIER_RULE_SERIOUS_PENALTY_KINDS: tuple[str, ...] = ("吊销", "责令关闭", "限制从业")
    # ... or the violation type (违法行为类型) is one the city lists as serious.
    TIER_RULE_SERIOUS_VIOLATION_TYPES: tuple[str, ...] = ()
    # 重错码 (duplicate/wrong code) rate target per 10,000 legal subjects, shown on the console:
    # 金昌市创建全国社会信用体系建设示范城市实施方案, task 8 (below 1 in 10,000).
    CODE_ERROR_RATE_TARGET_PER_10000: float = 1.0

    # Department API.
    DEPT_API_MAX_CLOCK_SKEW_SECONDS: int = 300
    # With CRYPTO_SUITE=sm: refuse HMAC-SHA256 request signatures (HMAC-SM3 only) once every
    # department has moved; off, both are accepted (backend/dept_api/auth.py).
    DEPT_API_REQUIRE_SM3: bool = False
    DEPT_API_MAX_BATCH: int = 5000

    # Identifiers: legal early pilot codes that fail the GB 32100 checksum.
    USCC_LEGACY_ALLOWLIST: tuple[str, ...] = ("91350100M0001TGQXM",)

    # Staff console.
    STAFF_MAX_FAILED_LOGINS: int = 5
    STAFF_LOCKOUT_MINUTES: int = 15
    STAFF_SESSION_MINUTES: int = 30  # idle timeout of a console session
    STAFF_SESSION_ABSOLUTE_HOURS: int = 12  # a console session ends this long after sign-in, active or not
    # How staff passwords are hashed (werkzeug's method string). Only ENV=testing may lower it:
    # everywhere else it must be scrypt at least as strong as werkzeug's default (N=2^15, r=8,
    # p=1; RFC 7914), and the start is refused otherwise.
    STAFF_PASSWORD_HASH: str = "scrypt:32768:8:1"  # noqa: S105 (a method name, not a password)
    # The console (every /admin path) answers only clients from these networks (CIDR), as the
    # app sees them after TRUSTED_PROXY_HOPS; everyone else gets 404. Empty: development and
    # testing allow loopback and the private ranges, production allows nobody until it is set.
    ADMIN_ALLOWED_NETWORKS: tuple[str, ...] = ()

    # Reports: issuing, the registry, signing and public verification (backend/issued_reports).
    REPORT_VALIDITY_DAYS: int = 30
    REPORT_NUMBER_PREFIX: str = "JCXY"  # report number = prefix-YYYYMMDD-10 random base32 chars
    # QR token and report file keys (Ed25519 or SM2, PEM): "kid:path[,kid:path...]"; the first
    # key of the CRYPTO_SUITE's algorithm signs, all of them verify (rotation) and are published.
    # Empty in development: one key of each algorithm is generated into the instance folder.
    REPORT_SIGNING_KEYS: str = ""
    # PAdES certificate of the platform. Empty in development: a self-signed one is generated
    # into the instance folder.
    REPORT_PDF_KEY_PATH: str = ""
    REPORT_PDF_CERT_PATH: str = ""
    REPORT_PDF_CHAIN_PATHS: tuple[str, ...] = ()
    REPORT_PDF_KEY_PASSPHRASE: str = ""
    REPORT_SPECIAL_MAX_YEARS: int = 5  # 专项信用报告: the longest period a subject may choose
    REPORT_SPECIAL_DEFAULT_YEARS: int = 3
    RATELIMIT_VERIFY: str = "60/minute;1000/hour"  # /v/<token>, /verify, /api/v1/verify
    # POST /api/mp/v1/materials, counted per citizen (the mini-program user, not the address): a
    # case takes at most MATERIAL_MAX_PER_CASE (20) files, sent one by one; room for a few a day.
    RATELIMIT_MATERIAL_UPLOADS: str = "30/hour;100/day"

    # Objections (异议), in working days (DOMAIN.md defaults).
    OBJECTION_ACCEPT_WORKING_DAYS: int = 1  # platform accepts or returns
    OBJECTION_DECIDE_WORKING_DAYS: int = 5  # department decides, from acceptance
    OBJECTION_EXTENSION_MAX_WORKING_DAYS: int = 5  # one extension, with a written reason
    OBJECTION_RESULT_WORKING_DAYS: int = 1  # result delivered, from the decision
    # Credit repair (信用修复), in working days.
    REPAIR_ACCEPT_WORKING_DAYS: int = 2
    REPAIR_DECIDE_WORKING_DAYS: int = 10  # from acceptance
    REPAIR_EXTENSION_MAX_WORKING_DAYS: int = 10  # DOMAIN.md gives no figure: our default
    REPAIR_RESULT_WORKING_DAYS: int = 3  # result shared, from the decision
    # Categories not repairable through the platform (record_category values); the basis shown
    # to the applicant is in workflows/repairs/messages.py.
    REPAIR_NON_REPAIRABLE_CATEGORIES: tuple[str, ...] = ("court_defaulter", "criminal_judgement")

    # Jobs and the outbox.
    DEADLINE_REMINDER_WORKING_DAYS: int = 1  # 0: remind on the day only
    JOBS_INTERVAL_SECONDS: int = 60
    OUTBOX_BATCH_SIZE: int = 200
    OUTBOX_LEASE_SECONDS: int = 300
    OUTBOX_MAX_ATTEMPTS: int = 10
    OUTBOX_BACKOFF_BASE_SECONDS: int = 30
    OUTBOX_BACKOFF_MAX_SECONDS: int = 3600
    # Delivered events older than this are deleted by the worker (failed ones stay for an operator).
    OUTBOX_RETENTION_DAYS: int = 30

    # Uploaded materials and file storage.
    MATERIAL_MAX_BYTES: int = 10 * 1024 * 1024
    MATERIAL_MAX_PDF_PAGES: int = 50
    # Declared width x height of an uploaded JPEG or PNG, refused above this before any decoding:
    # an A4 page scanned at 600 dpi is 35 MP and a phone photo 12-48 MP; 50 MP decoded as RGBA
    # is already 200 MB of memory in a reviewer's preview.
    MATERIAL_MAX_IMAGE_PIXELS: int = 50_000_000
    MATERIAL_MAX_PER_CASE: int = 20
    STORAGE_DIR: str = ""  # empty: <instance>/storage
    # /readyz fails (503) when the storage folder has less free space than this.
    STORAGE_MIN_FREE_MB: int = 512
    # /readyz writes a probe file (or asks the bucket) at most once per this many seconds a process.
    STORAGE_CHECK_CACHE_SECONDS: int = 5

    # --- Operations: object storage, metrics, proxies (docs/deployment.md) -----------------------
    STORAGE_BACKEND: str = "local"  # local: STORAGE_DIR | s3: an S3-compatible bucket
    S3_ENDPOINT_URL: str = ""  # empty: AWS; MinIO, Ceph or a cloud's S3 API: its https:// URL
    S3_BUCKET: str = ""  # required when STORAGE_BACKEND=s3
    S3_ACCESS_KEY_ID: str = ""  # required in production when STORAGE_BACKEND=s3
    S3_SECRET_ACCESS_KEY: str = ""  # required in production when STORAGE_BACKEND=s3
    S3_REGION: str = "us-east-1"
    # /metrics answers scrapers from these networks, or those that send
    # "Authorization: Bearer <METRICS_TOKEN>"; everyone else gets 404.
    METRICS_ALLOWED_NETWORKS: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    METRICS_TOKEN: str = ""  # at least 24 characters; empty: allowed networks only
    # Proxies in front of gunicorn that append to X-Forwarded-For (nginx on the same box: 1).
    # 0 trusts no header: behind a proxy every client would then share the proxy's address,
    # and with it one rate-limit bucket.
    TRUSTED_PROXY_HOPS: int = 0
    # The addresses those proxies connect from (addresses or networks). X-Forwarded-For and
    # X-Forwarded-Proto are read only on connections from them; any other peer is taken at its
    # own address, whatever it claims (else any host reaching gunicorn could say 127.0.0.1).
    TRUSTED_PROXIES: tuple[str, ...] = ("127.0.0.1/32", "::1/128")

    # --- WeChat (miniprogram_api/): mini-program, official account, subscribe messages -------
    # A channel runs when its AppID is set; production then refuses to start without its secrets.
    WECHAT_API_BASE_URL: str = "https://api.weixin.qq.com"  # tests and the demo: the fake server
    WECHAT_MP_APPID: str = ""  # mini-program (小程序)
    WECHAT_MP_SECRET: str = ""
    WECHAT_OA_APPID: str = ""  # official account (公众号)
    WECHAT_OA_SECRET: str = ""
    WECHAT_OA_TOKEN: str = ""  # server configuration token (signature of callbacks)
    WECHAT_OA_AES_KEY: str = ""  # EncodingAESKey, 43 characters; set: AES safe mode
    WECHAT_OA_TIMESTAMP_WINDOW_SECONDS: int = 300
    WECHAT_OA_MAX_BODY_BYTES: int = 64 * 1024
    WECHAT_OA_MENU_FILE: str = ""  # empty: miniprogram_api/menu.json
    # WeChat waits 5 s for a passive reply; an answer that took longer goes out as a
    # customer-service message instead (miniprogram_api/oa.py).
    WECHAT_OA_REPLY_BUDGET_SECONDS: int = 4
    # Mini-program message push (消息推送, /wechat/mp/push): the Token and EncodingAESKey set in the
    # mini-program console; empty token: the endpoint is off. Key set: safe mode (AES).
    WECHAT_MP_PUSH_TOKEN: str = ""
    WECHAT_MP_PUSH_AES_KEY: str = ""
    # Long-term subscriptions (长期订阅, 政务民生 mini-programs only): one acceptance allows any
    # number of messages of the template until the user turns it off; a send does not use it up.
    WECHAT_LONG_TERM_SUBSCRIPTIONS: bool = False
    WECHAT_TIMEOUT_SECONDS: int = 5
    # Subscribe message templates (订阅消息) and the mini-program page a message opens.
    WECHAT_TEMPLATE_CASE_PROGRESS: str = ""  # objection / repair state changes
    WECHAT_TEMPLATE_DEADLINE: str = ""  # deadline reminders
    WECHAT_TEMPLATE_REPORT_READY: str = ""  # a report is ready
    # Each template's keywords, as the WeChat console shows them for the template picked there
    # (详细内容: "查询码 {{character_string1.DATA}}" ...) -> what fills them: "keyword:value,...".
    # The values each purpose offers are in WECHAT_TEMPLATE_VALUES (backend/config.py); the
    # keyword's type (thing, time, phrase ...) sets how the value is cut to WeChat's limits.
    WECHAT_TEMPLATE_FIELDS_CASE_PROGRESS: str = (
        "character_string1:number,thing2:case_type,phrase3:progress,thing4:note,time5:time"
    )
    WECHAT_TEMPLATE_FIELDS_REPORT_READY: str = (
        "character_string1:number,thing2:kind,thing3:subject,time4:issued_at,date5:valid_until"
    )
    WECHAT_TEMPLATE_FIELDS_DEADLINE: str = "thing1:item,character_string2:number,date3:deadline,thing4:note"
    # The mini-program pages a message opens (paths in the mini-program's app.json, no query:
    # the platform adds "?type=...&number=..." / "?number=..."); a page WeChat does not know is 41030.
    WECHAT_PAGE_CASE_DETAIL: str = "pages/case/detail"
    WECHAT_PAGE_REPORT_DETAIL: str = "pages/report/detail"
    WECHAT_PAGE_BINDINGS: str = "pages/enterprise/bindings"
    WECHAT_REPORT_EXPIRY_REMINDER_DAYS: int = 3  # days before a mini-program report expires (0: its last day)
    WECHAT_MINIPROGRAM_STATE: str = "formal"  # formal | trial | developer
    MP_SESSION_HOURS: int = 72  # lifetime of a mini-program bearer token
    MP_REPORT_URL_SECONDS: int = 300  # lifetime of a signed report download URL
    MP_KIOSK_TICKET_SECONDS: int = 120  # a kiosk sign-in QR code

    # --- Kiosk (kiosk/): self-service terminals in the service hall ----------------------------
    KIOSK_IDLE_TIMEOUT_SECONDS: int = 60  # a citizen session ends after this long without a touch
    KIOSK_IDLE_WARNING_SECONDS: int = 15  # the countdown is shown this long before the end
    KIOSK_SESSION_MAX_MINUTES: int = 15  # hard cap on one citizen session, touches or not
    # Reports one person may print free per local day, all kiosks together. A report counts from
    # the moment its print job is created; only a job the platform cancelled before handing out
    # its document does not (the printer was not ready, or the agent never fetched it within
    # KIOSK_PRINT_JOB_MINUTES). The agent's word that a printed job failed does not un-count it.
    KIOSK_FREE_PRINTS_PER_DAY: int = 3
    KIOSK_FACE_MATCH_REQUIRED: bool = True  # ID-card sign-in needs the reader's face comparison pass
    KIOSK_HEARTBEAT_SECONDS: int = 30  # how often the agent reports (told to it in each answer)
    KIOSK_OFFLINE_AFTER_SECONDS: int = 120  # fleet page: no heartbeat for this long = offline
    # A print job whose document the agent has not fetched by then is cancelled (not counted).
    KIOSK_PRINT_JOB_MINUTES: int = 10
    # Lifetime of the one-time challenge the agent signs with an ID-card reading.
    KIOSK_SIGNIN_CHALLENGE_SECONDS: int = 60
    # Report verifications (number and code, or a QR) per kiosk: keyed by the device, not the
    # address (a hall's kiosks may share one), counted in the limiter's storage (Redis in
    # production); off with RATELIMIT_ENABLED=false like every other limit.
    KIOSK_RATELIMIT_VERIFY: str = "20/minute;200/hour"
    # Sign-in attempts per kiosk, the same way: card challenges, signed readings and QR tickets.
    KIOSK_RATELIMIT_SIGNIN: str = "20/minute;300/hour"

    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"


def _coerce(raw: str, current: Any) -> Any:
    if isinstance(current, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, tuple):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    return raw


def load_settings(
    instance_path: str | os.PathLike[str],
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    settings = Settings()
    for f in fields(Settings):
        if f.name == "extra":
            continue
        for env_name in (f.name, f"CREDIT_{f.name}"):
            if env_name in environ and environ[env_name] != "":
                try:
                    setattr(settings, f.name, _coerce(environ[env_name], getattr(settings, f.name)))
                except ValueError as exc:
                    raise ConfigError(f"配置项 {env_name} 的值无效: {exc}") from exc
    for key, value in (overrides or {}).items():
        if hasattr(settings, key) and key != "extra":
            setattr(settings, key, value)
        else:
            settings.extra[key] = value
    _check_secrets(settings, Path(instance_path))
    _check_values(settings)
    return settings


def _check_secrets(settings: Settings, instance_path: Path) -> None:
    missing = [name for name in SECRET_NAMES if not getattr(settings, name)]
    if not missing:
        return
    if settings.is_production:
        raise ConfigError(
            "production start refused: missing secret(s) " + ", ".join(missing) + " (set them in the environment)"
        )
    generated = _dev_secrets(instance_path)
    for name in missing:
        setattr(settings, name, generated[name])
    if settings.ENV != "testing":
        log.warning(
            "development mode: using throw-away secrets from %s for %s",
            instance_path / "dev-secrets.json",
            ", ".join(missing),
        )


def _dev_secrets(instance_path: Path) -> dict[str, str]:
    with instance_lock(instance_path, "dev-secrets"):  # workers starting at once share one set
        return _read_or_generate_dev_secrets(instance_path)


def _read_or_generate_dev_secrets(instance_path: Path) -> dict[str, str]:
    path = instance_path / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    # Keys for both suites' ciphers, so CRYPTO_SUITE can be switched in development too.
    data = {
        "SECRET_KEY": secrets.token_urlsafe(32),
        "PII_ENCRYPTION_KEYS": "dev1:"
        + base64.b64encode(secrets.token_bytes(32)).decode()
        + ",devsm1:sm4:"
        + base64.b64encode(secrets.token_bytes(16)).decode(),
        "PII_HASH_KEY": secrets.token_urlsafe(32),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)
    return data


PII_CIPHERS = {"aes": ("AES-256-GCM", 32), "sm4": ("SM4-GCM", 16)}


def parse_key_ring(spec: str) -> list[tuple[str, str, bytes]]:
    """Parse ``kid:base64key`` (AES-256-GCM, 32 bytes) and ``kid:sm4:base64key`` (SM4-GCM,
    16 bytes) entries, comma-separated -> [(kid, algorithm, key)]."""
    ring: list[tuple[str, str, bytes]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, rest = part.partition(":")
        if not sep or not kid:
            raise ConfigError("PII_ENCRYPTION_KEYS: each entry must be 'kid:base64key' or 'kid:sm4:base64key'")
        tag, sep, b64 = rest.partition(":")
        if not sep:
            tag, b64 = "aes", rest
        if tag not in PII_CIPHERS:
            raise ConfigError(f"PII_ENCRYPTION_KEYS: key {kid!r} names an unknown cipher {tag!r} (aes or sm4)")
        algorithm, size = PII_CIPHERS[tag]
        try:
            key = base64.b64decode(b64, validate=True)
        except ValueError as exc:
            raise ConfigError(f"PII_ENCRYPTION_KEYS: key {kid!r} is not valid base64") from exc
        if len(key) != size:
            raise ConfigError(f"PII_ENCRYPTION_KEYS: key {kid!r} ({algorithm}) must be {size} bytes, got {len(key)}")
        ring.append((kid, algorithm, key))
    if not ring:
        raise ConfigError("PII_ENCRYPTION_KEYS is empty")
    return ring


def parse_hash_key(spec: str) -> tuple[str, bytes]:
    """``PII_HASH_KEY`` -> (MAC algorithm, key bytes); ``sm3:<secret>`` selects HMAC-SM3."""
    if spec.startswith("sm3:"):
        return "HMAC-SM3", spec[4:].encode()
    return "HMAC-SHA256", spec.encode()


def _check_crypto_suite(settings: Settings) -> None:
    try:
        suite = parse_suite(settings.CRYPTO_SUITE)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    cipher = algorithms(suite).pii_cipher
    if not any(algorithm == cipher for _, algorithm, _ in parse_key_ring(settings.PII_ENCRYPTION_KEYS)):
        example = "kid:sm4:<16 bytes, base64>" if cipher == "SM4-GCM" else "kid:<32 bytes, base64>"
        raise ConfigError(
            f"CRYPTO_SUITE={suite.value} encrypts with {cipher}, and PII_ENCRYPTION_KEYS has no such key: "
            f"add one ({example}) before the others already there"
        )
    mac, _ = parse_hash_key(settings.PII_HASH_KEY)
    if suite is Suite.SM and mac != "HMAC-SM3":
        log.warning(
            "CRYPTO_SUITE=sm with an HMAC-SHA256 PII_HASH_KEY: look-up hashes stay HMAC-SHA256 until the "
            "re-hash migration of docs/cryptography.md"
        )


def _check_values(settings: Settings) -> None:
    parse_key_ring(settings.PII_ENCRYPTION_KEYS)
    _check_crypto_suite(settings)
    if settings.ENV not in {"development", "production", "testing"}:
        raise ConfigError(f"ENV must be development, production or testing, not {settings.ENV!r}")
    if settings.PUBLICITY_DEFAULT_END not in {"min", "max"}:
        raise ConfigError("PUBLICITY_DEFAULT_END must be 'min' or 'max'")
    if settings.is_production and len(settings.SECRET_KEY) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters in production")
    if not 1 <= settings.REPORT_SPECIAL_DEFAULT_YEARS <= settings.REPORT_SPECIAL_MAX_YEARS:
        raise ConfigError("REPORT_SPECIAL_DEFAULT_YEARS must be between 1 and REPORT_SPECIAL_MAX_YEARS")
    if not re.fullmatch(r"[A-Z0-9]{1,8}", settings.REPORT_NUMBER_PREFIX):
        raise ConfigError("REPORT_NUMBER_PREFIX must be 1-8 upper-case letters or digits")
    _check_operations(settings)
    if settings.is_production:
        _check_report_keys(settings)
    _check_wechat(settings)


# What each subscribe-message purpose can put in its template's keywords (see
# miniprogram_api/notifications.py, case_values and report_values).
WECHAT_TEMPLATE_VALUES: dict[str, tuple[str, ...]] = {
    "CASE_PROGRESS": ("number", "case_type", "progress", "note", "time"),
    "REPORT_READY": ("number", "kind", "subject", "issued_at", "valid_until"),
    "DEADLINE": ("item", "number", "deadline", "note"),
}
# The keyword types of subscribeMessage.send ("参数值内容限制说明").
WECHAT_KEYWORD_TYPES = (
    "thing",
    "number",
    "letter",
    "symbol",
    "character_string",
    "time",
    "date",
    "amount",
    "phone_number",
    "car_number",
    "name",
    "phrase",
)
_KEYWORD_RE = re.compile(r"(" + "|".join(WECHAT_KEYWORD_TYPES) + r")([1-9][0-9]{0,2})")
_PAGE_RE = re.compile(r"[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*")


def parse_template_fields(purpose: str, spec: str) -> dict[str, str]:
    """``WECHAT_TEMPLATE_FIELDS_<purpose>`` -> {keyword: value name}; ConfigError naming the
    setting when a keyword or a value is not one WeChat or the platform knows."""
    name = f"WECHAT_TEMPLATE_FIELDS_{purpose}"
    allowed = WECHAT_TEMPLATE_VALUES[purpose]
    fields_: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        keyword, sep, value = (x.strip() for x in part.partition(":"))
        if not sep or not _KEYWORD_RE.fullmatch(keyword):
            raise ConfigError(
                f"{name}: {part!r} must be 'keyword:value' with a keyword such as thing1 or time5 "
                f"(types: {', '.join(WECHAT_KEYWORD_TYPES)})"
            )
        if value not in allowed:
            raise ConfigError(f"{name}: {value!r} is not a value of this message (one of {', '.join(allowed)})")
        if keyword in fields_:
            raise ConfigError(f"{name}: keyword {keyword} is given twice")
        fields_[keyword] = value
    if not fields_:
        raise ConfigError(f"{name} is empty: list the template's keywords as 'keyword:value,...'")
    return fields_


def _check_wechat_templates(settings: Settings) -> None:
    for purpose in WECHAT_TEMPLATE_VALUES:
        parse_template_fields(purpose, getattr(settings, f"WECHAT_TEMPLATE_FIELDS_{purpose}"))
    for name in ("WECHAT_PAGE_CASE_DETAIL", "WECHAT_PAGE_REPORT_DETAIL", "WECHAT_PAGE_BINDINGS"):
        if not _PAGE_RE.fullmatch(getattr(settings, name)):
            raise ConfigError(f"{name} must be a mini-program page path such as pages/case/detail (no query)")


def _check_wechat(settings: Settings) -> None:
    """A WeChat channel whose AppID is set needs its secrets; production talks to WeChat only."""
    _check_wechat_templates(settings)
    if settings.WECHAT_MINIPROGRAM_STATE not in {"formal", "trial", "developer"}:
        raise ConfigError("WECHAT_MINIPROGRAM_STATE must be formal, trial or developer")
    if settings.WECHAT_OA_AES_KEY and len(settings.WECHAT_OA_AES_KEY) != 43:
        raise ConfigError("WECHAT_OA_AES_KEY must be the 43-character EncodingAESKey")
    if settings.WECHAT_MP_PUSH_AES_KEY and len(settings.WECHAT_MP_PUSH_AES_KEY) != 43:
        raise ConfigError("WECHAT_MP_PUSH_AES_KEY must be the 43-character EncodingAESKey")
    if settings.WECHAT_OA_REPLY_BUDGET_SECONDS < 1:
        raise ConfigError("WECHAT_OA_REPLY_BUDGET_SECONDS must be at least 1")
    if settings.WECHAT_REPORT_EXPIRY_REMINDER_DAYS < 0:
        raise ConfigError("WECHAT_REPORT_EXPIRY_REMINDER_DAYS must not be negative")
    # The reminder job finds a report's reminder by its event's dedupe key while the report is in
    # its reminder window: purging the event sooner would send the reminder again.
    if settings.OUTBOX_RETENTION_DAYS <= settings.WECHAT_REPORT_EXPIRY_REMINDER_DAYS:
        raise ConfigError("OUTBOX_RETENTION_DAYS must be more than WECHAT_REPORT_EXPIRY_REMINDER_DAYS")
    if not settings.is_production:
        return
    needed = []
    if settings.WECHAT_MP_APPID:
        needed.append("WECHAT_MP_SECRET")
    if settings.WECHAT_OA_APPID:
        needed += ["WECHAT_OA_SECRET", "WECHAT_OA_TOKEN"]
    missing = [name for name in needed if not getattr(settings, name)]
    if missing:
        raise ConfigError("production start refused: missing WeChat secret(s) " + ", ".join(missing))
    if not settings.WECHAT_API_BASE_URL.startswith("https://"):
        raise ConfigError("production start refused: WECHAT_API_BASE_URL must be an https:// URL")


def _check_report_keys(settings: Settings) -> None:
    """Production signs reports with configured keys only: a generated key would make every
    report issued by that process unverifiable once the process (or its disk) is gone."""
    if not settings.REPORT_SIGNING_KEYS.strip():
        raise ConfigError("production start refused: REPORT_SIGNING_KEYS is not set (kid:path of a report key)")
    paths: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in settings.REPORT_SIGNING_KEYS.split(","))):
        kid, sep, path = part.partition(":")
        if not sep or not kid or not path:
            raise ConfigError("REPORT_SIGNING_KEYS: each entry must be 'kid:path'")
        paths.append(("REPORT_SIGNING_KEYS", path))
    for name in ("REPORT_PDF_KEY_PATH", "REPORT_PDF_CERT_PATH"):
        value = getattr(settings, name)
        if not value:
            raise ConfigError(f"production start refused: {name} is not set (the platform's PDF signing certificate)")
        paths.append((name, value))
    paths += [("REPORT_PDF_CHAIN_PATHS", p) for p in settings.REPORT_PDF_CHAIN_PATHS]
    for name, path in paths:
        if not os.path.isfile(path):
            raise ConfigError(f"production start refused: {name} names a file that does not exist: {path}")
    # Readable by this process, parseable, and the PDF key the key of its certificate: otherwise
    # the first report would fail (422) long after a green start.
    from .issued_reports.keys import SigningMaterialError, check_signing_material

    try:
        check_signing_material(settings)
    except SigningMaterialError as exc:
        raise ConfigError(f"production start refused: {exc}") from None


# The weakest hash a non-testing start accepts: werkzeug's scrypt default (N, r, p of RFC 7914).
MIN_SCRYPT_PARAMETERS = (32768, 8, 1)


def _check_password_hash(settings: Settings) -> None:
    method = settings.STAFF_PASSWORD_HASH
    parts = method.split(":")
    if parts[0] not in {"scrypt", "pbkdf2"} or len(parts) > (4 if parts[0] == "scrypt" else 3):
        raise ConfigError(f"STAFF_PASSWORD_HASH must be 'scrypt:N:r:p' (or pbkdf2 under testing), not {method!r}")
    if settings.ENV == "testing":
        return
    try:
        numbers = tuple(int(x) for x in parts[1:]) if parts[0] == "scrypt" else ()
    except ValueError:
        numbers = ()
    full = numbers + MIN_SCRYPT_PARAMETERS[len(numbers) :]
    if parts[0] != "scrypt" or any(n < least for n, least in zip(full, MIN_SCRYPT_PARAMETERS, strict=True)):
        raise ConfigError(
            f"STAFF_PASSWORD_HASH {method!r} is weaker than scrypt:32768:8:1; only ENV=testing may use "
            "a cheaper password hash"
        )


def _check_admin_networks(settings: Settings) -> None:
    if settings.STAFF_SESSION_MINUTES < 1 or settings.STAFF_SESSION_ABSOLUTE_HOURS < 1:
        raise ConfigError("STAFF_SESSION_MINUTES and STAFF_SESSION_ABSOLUTE_HOURS must be at least 1")
    networks = []
    for network in settings.ADMIN_ALLOWED_NETWORKS:
        try:
            networks.append(ipaddress.ip_network(network, strict=False))
        except ValueError as exc:
            raise ConfigError(f"ADMIN_ALLOWED_NETWORKS: {network!r} is not an address or network") from exc
    # nginx on the same box (docs/deployment.md) connects from loopback: without a trusted hop
    # every client would look like 127.0.0.1 and a loopback entry would open the console to all.
    if settings.is_production and settings.TRUSTED_PROXY_HOPS == 0 and any(n.is_loopback for n in networks):
        raise ConfigError(
            "production start refused: ADMIN_ALLOWED_NETWORKS lists a loopback network while "
            "TRUSTED_PROXY_HOPS is 0 (behind nginx every client would be allowed)"
        )


def _check_operations(settings: Settings) -> None:
    """Storage backend, metrics access and proxy trust: a mistake here either loses files or
    opens /metrics to the internet, so it stops the start instead of surfacing later."""
    if settings.STORAGE_BACKEND not in {"local", "s3"}:
        raise ConfigError(f"STORAGE_BACKEND must be 'local' or 's3', not {settings.STORAGE_BACKEND!r}")
    if settings.STORAGE_BACKEND == "s3":
        needed = ["S3_BUCKET"]
        if settings.is_production:
            # No silent fallback to whatever credentials the host happens to carry.
            needed += ["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]
        missing = [name for name in needed if not getattr(settings, name)]
        if missing:
            raise ConfigError("STORAGE_BACKEND=s3 needs " + ", ".join(missing) + " (set them in the environment)")
        if settings.is_production and settings.S3_ENDPOINT_URL and not settings.S3_ENDPOINT_URL.startswith("https://"):
            raise ConfigError("production start refused: S3_ENDPOINT_URL must be an https:// URL")
    for network in settings.METRICS_ALLOWED_NETWORKS:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ConfigError(f"METRICS_ALLOWED_NETWORKS: {network!r} is not an address or network") from exc
    if settings.METRICS_TOKEN and len(settings.METRICS_TOKEN) < 24:
        raise ConfigError("METRICS_TOKEN must be at least 24 characters")
    if settings.TRUSTED_PROXY_HOPS < 0:
        raise ConfigError("TRUSTED_PROXY_HOPS must be 0 or more")
    for network in settings.TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ConfigError(f"TRUSTED_PROXIES: {network!r} is not an address or network") from exc
    _check_admin_networks(settings)
    _check_password_hash(settings)
    if settings.DATABASE_PING_AFTER_IDLE_SECONDS < 0:
        raise ConfigError("DATABASE_PING_AFTER_IDLE_SECONDS must be 0 or more")
