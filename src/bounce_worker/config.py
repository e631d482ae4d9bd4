"""Settings from the environment, read in one place.

With no variable set, everything runs with no server: a SQLite database and kombu's
SQLAlchemy transport on a second SQLite file, both under BOUNCE_WORKER_HOME.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from bounce_worker.domain.policy import PolicySettings, ladder_problem
from bounce_worker.limits import MailLimits

PREFIX = "BOUNCE_WORKER_"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    broker_url: str
    queue: str
    policy: PolicySettings
    unlock_hour: int
    unlock_minute: int
    timezone: str
    retention: timedelta
    max_message_bytes: int
    batch_size: int
    visibility_timeout: int
    secret_key: str | None
    log_format: str
    # Nightly jobs (README "Nightly jobs"): wall-clock times in `timezone`, rows per batch.
    recalculate_at: tuple[int, int] = (3, 30)
    housekeeping_at: tuple[int, int] = (4, 0)
    # Caps every task's hard time limit (limits.capped); 0 = the table's limits as declared.
    task_time_limit_cap: int = 0
    job_batch_size: int = 10_000
    job_workers: int = 2  # parallel batches on PostgreSQL (database connections)
    # One-event messages a worker applies together (README "Throughput"): at most this many
    # per transaction, after at most this many seconds in the worker's buffer.
    event_group_size: int = 32
    event_group_wait: float = 0.05
    # Authenticated intake (docs/intake.md, SPEC 7). Secrets come from the environment only.
    intake: IntakeSettings = field(default_factory=lambda: IntakeSettings())
    # SMS (docs/sms.md): sending number -> (organization, list or None); BOUNCE_WORKER_SMS_NUMBERS
    sms_numbers: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # Organizations whose complaints and unsubscribes reach a contact's other channels
    # (bounce_worker.contacts); `*` for all. BOUNCE_WORKER_CROSS_CHANNEL_ORGANIZATIONS
    cross_channel_organizations: frozenset[str] = frozenset()
    # The console (/console, README "The console"): the key signing its session cookies
    # (BOUNCE_WORKER_CONSOLE_SECRET; unset: derived from SECRET_KEY, else random per process,
    # so sessions end on restart) and how long a session lasts (CONSOLE_SESSION_HOURS).
    console_secret: str | None = None
    console_session_hours: int = 8
    # What one raw mail may cost (limits.py, docs/hardening.md); max_bytes and max_recipients
    # are MAX_MESSAGE_BYTES and MAX_RECIPIENTS.
    mail_limits: MailLimits = field(default_factory=MailLimits)
    # The HTTP API (docs/api.md): seconds a verified API key is remembered by a server
    # process without reading its row again (a revoked key is refused within this bound).
    api_key_cache_seconds: int = 5

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")


# The hosts AWS serves SNS signing certificates (and SubscribeURLs) from: sns.<region>.amazonaws.com
# (and .amazonaws.com.cn in China).
SNS_CERT_HOSTS_DEFAULT = r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?"


@dataclass(frozen=True)
class IntakeSettings:
    """Who may feed suppressions in (SPEC 7): webhook secrets, VERP, limits."""

    # BOUNCE_WORKER_MAILGUN_SIGNING_KEY: Mailgun's "HTTP webhook signing key".
    mailgun_signing_key: str | None = None
    # BOUNCE_WORKER_SENDGRID_VERIFICATION_KEY: SendGrid's signed event webhook public key
    # (base64 DER, as SendGrid shows it, or PEM).
    sendgrid_verification_key: str | None = None
    # BOUNCE_WORKER_POSTMARK_USER / _PASSWORD: basic auth you put in Postmark's webhook URL.
    postmark_user: str | None = None
    postmark_password: str | None = None
    # BOUNCE_WORKER_SNS_TOPIC_ARNS: comma-separated SNS topic ARNs whose messages are accepted.
    sns_topic_arns: tuple[str, ...] = ()
    # BOUNCE_WORKER_SNS_CERT_HOSTS: regular expression the signing certificate's and the
    # SubscribeURL's host must match in full (https only). For tests only: a loopback
    # host:port here is also allowed over plain http.
    sns_cert_hosts: str = SNS_CERT_HOSTS_DEFAULT
    # BOUNCE_WORKER_WEBHOOK_MAX_AGE_SECONDS: signed timestamps older (or further ahead) than
    # this are refused (Mailgun, SendGrid, SNS), and Mailgun tokens are remembered this long.
    webhook_max_age: int = 300
    # BOUNCE_WORKER_VERP_DOMAIN / BOUNCE_WORKER_VERP_KEY: the Return-Path domain and HMAC key.
    verp_domain: str | None = None
    verp_key: str | None = None
    # BOUNCE_WORKER_MAX_RECIPIENTS: one mail naming more recipients is dead-lettered.
    max_recipients: int = 100
    # BOUNCE_WORKER_CLOCK_SKEW_SECONDS: occurred_at later than receipt plus this is clamped.
    clock_skew: int = 300
    # BOUNCE_WORKER_TRUSTED_SOURCES: comma-separated source names (pipe/lmtp --source) whose
    # mail is verified without a VERP token (a feedback-loop mailbox you declared trusted).
    trusted_sources: frozenset[str] = frozenset()
    # SMS gateways (docs/sms.md). BOUNCE_WORKER_TWILIO_AUTH_TOKEN: the HMAC-SHA1 key of
    # X-Twilio-Signature. BOUNCE_WORKER_VONAGE_SIGNATURE_SECRET / _METHOD: Vonage's signature
    # secret and the algorithm chosen in its dashboard. BOUNCE_WORKER_INFOBIP_USER / _PASSWORD:
    # the BASIC credentials of Infobip's notification profile.
    twilio_auth_token: str | None = None
    vonage_signature_secret: str | None = None
    vonage_signature_method: str = "md5hash"
    infobip_user: str | None = None
    infobip_password: str | None = None
    # BOUNCE_WORKER_PUBLIC_URL: the service's base URL as gateways call it (Twilio signs the
    # full URL); unset: the URL the server received.
    public_url: str | None = None


def _get(name: str, default: str) -> str:
    return os.environ.get(PREFIX + name, "").strip() or default


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = _get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name} must be at least {minimum}, got {value}")
    return value


def _ladder(raw: str) -> tuple[int, ...]:
    try:
        days = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{PREFIX}LADDER_DAYS must look like 1,2,3,90; got {raw!r}") from None
    problem = ladder_problem(days)
    if problem:
        raise ConfigError(f"{PREFIX}LADDER_DAYS: {problem}")
    return days


def _clock(raw: str, name: str = "UNLOCK_AT") -> tuple[int, int]:
    hour, _, minute = raw.partition(":")
    try:
        h, m = int(hour), int(minute or 0)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be HH:MM, got {raw!r}") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ConfigError(f"{PREFIX}{name} must be HH:MM, got {raw!r}")
    return h, m


def _sms_numbers(raw: str) -> dict[str, tuple[str, str | None]]:
    """`+15550001111=acme,+15550002222=acme/alerts,ACME=acme`: who owns each sending number
    (phone number, short code or alphanumeric sender id), and optionally which list."""
    from bounce_worker.parsers.sms import number_key

    numbers: dict[str, tuple[str, str | None]] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        number, sep, owner = part.partition("=")
        org, _, lst = owner.strip().partition("/")
        if not sep or not number.strip() or not org.strip():
            raise ConfigError(
                f"{PREFIX}SMS_NUMBERS entries look like +15550001111=org or "
                f"+15550001111=org/list; got {part[:60]!r}"
            )
        numbers[number_key(number)] = (org.strip(), lst.strip() or None)
    return numbers


PLACEHOLDER = "CHANGE-ME"  # what .env.example writes where a secret goes


def placeholder_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """The one-line refusal when a setting (or a Flower/Redis/PostgreSQL credential the
    services are started with) still holds .env.example's placeholder; else None."""
    env = os.environ if environ is None else environ
    names = sorted(
        name
        for name, value in env.items()
        if name.startswith((PREFIX, "FLOWER_", "REDIS_", "POSTGRES_"))
        and PLACEHOLDER.lower() in value.lower()
    )
    if not names:
        return None
    return (
        f"{', '.join(names)} still hold{'s' if len(names) == 1 else ''} the {PLACEHOLDER} "
        "placeholder of .env.example: set a real value"
    )


# The keys this system makes HMACs with (SECRET_KEY: erasure hashes, log redaction;
# VERP_KEY: VERP tokens; CONSOLE_SECRET: console session cookies; all HMAC-SHA256). An HMAC
# key shorter than the hash's output, 32 bytes for SHA-256, "is strongly discouraged as it
# would decrease the security strength of the function" (RFC 2104 section 3); NIST SP
# 800-107 Rev. 1 section 5.3.4 bounds HMAC's security strength by the key's. Only the length
# can be checked: the key must also be random (KEY_RECIPE makes one of 43 characters).
MIN_KEY_BYTES = 32
KEY_RECIPE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
HMAC_KEYS = ("SECRET_KEY", "VERP_KEY", "CONSOLE_SECRET")


def key_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """The one-line refusal when an HMAC key (HMAC_KEYS) is set but shorter than
    MIN_KEY_BYTES (blanks around it not counted); else None. An unset (or empty) key is
    left to what needs it (`forget` refuses to run; bounces stay unverified)."""
    env = os.environ if environ is None else environ
    short = [
        name
        for name in HMAC_KEYS
        if (value := env.get(PREFIX + name, ""))
        and len(value.strip().encode("utf-8")) < MIN_KEY_BYTES
    ]
    if not short:
        return None
    return (
        f"{', '.join(PREFIX + n for n in short)} {'is' if len(short) == 1 else 'are'} shorter "
        f"than {MIN_KEY_BYTES} bytes, too short for an HMAC-SHA256 key (RFC 2104): make one "
        f"with {KEY_RECIPE}"
    )


def load_settings() -> Settings:
    problem = placeholder_problem() or key_problem()
    if problem:
        raise ConfigError(problem)
    home = Path(_get("HOME", ".bounce-worker")).expanduser().resolve()
    hour, minute = _clock(_get("UNLOCK_AT", "03:00"))
    log_format = _get("LOG_FORMAT", "text")
    if log_format not in {"text", "json"}:
        raise ConfigError(f"{PREFIX}LOG_FORMAT must be text or json, got {log_format!r}")
    return Settings(
        home=home,
        database_url=_get("DATABASE_URL", f"sqlite:///{home}/bounce-worker.sqlite3"),
        broker_url=_broker_url(_get("BROKER_URL", f"sqla+sqlite:///{home}/broker.sqlite3")),
        queue=_get("QUEUE", "bounce_worker"),
        policy=PolicySettings(
            ladder_days=_ladder(_get("LADDER_DAYS", "1,2,3,90")),
            soft_bounce_limit=_int("SOFT_BOUNCE_LIMIT", 5, minimum=1),
            quiet_period=timedelta(days=_int("QUIET_PERIOD_DAYS", 90, minimum=1)),
        ),
        unlock_hour=hour,
        unlock_minute=minute,
        timezone=_get("TIMEZONE", "UTC"),
        retention=timedelta(days=_int("RETENTION_DAYS", 90, minimum=1)),
        max_message_bytes=_int("MAX_MESSAGE_BYTES", 10 * 1024 * 1024, minimum=1024),
        batch_size=_int("BATCH_SIZE", 500, minimum=1),
        # Seconds before Redis hands an unacknowledged message to another worker: above the
        # longest task's hard time limit (celeryconfig), so no live task is ever run twice.
        visibility_timeout=_int("VISIBILITY_TIMEOUT", 3600, minimum=1),
        task_time_limit_cap=_int("TASK_TIME_LIMIT_CAP", 0),
        secret_key=os.environ.get(PREFIX + "SECRET_KEY") or None,
        log_format=log_format,
        recalculate_at=_clock(_get("RECALCULATE_AT", "03:30"), "RECALCULATE_AT"),
        housekeeping_at=_clock(_get("HOUSEKEEPING_AT", "04:00"), "HOUSEKEEPING_AT"),
        job_batch_size=_int("JOB_BATCH_SIZE", 10_000, minimum=1),
        job_workers=_int("JOB_WORKERS", 2, minimum=1),
        event_group_size=_int("EVENT_GROUP_SIZE", 32, minimum=1),
        event_group_wait=_int("EVENT_GROUP_WAIT_MS", 50, minimum=1) / 1000,
        console_secret=os.environ.get(PREFIX + "CONSOLE_SECRET") or None,
        console_session_hours=_int("CONSOLE_SESSION_HOURS", 8, minimum=1),
        api_key_cache_seconds=_int("API_KEY_CACHE_SECONDS", 5, minimum=0),
        intake=load_intake(),
        mail_limits=load_mail_limits(),
        sms_numbers=_sms_numbers(_get("SMS_NUMBERS", "")),
        cross_channel_organizations=frozenset(_names("CROSS_CHANNEL_ORGANIZATIONS")),
    )


def _broker_url(url: str) -> str:
    """The URL, if kombu has a transport for its scheme (`sqla+sqlite://...`: `sqla`); a
    typo like `redsi://` was a KeyError traceback from the first publish."""
    from kombu.transport import TRANSPORT_ALIASES

    scheme = url.partition("://")[0].split("+", 1)[0].lower() if "://" in url else ""
    if scheme not in TRANSPORT_ALIASES:
        raise ConfigError(
            f"{PREFIX}BROKER_URL has no broker transport {scheme or url!r}: give e.g. "
            "redis://127.0.0.1:6379/0, amqp://user:password@host:5672// or sqla+sqlite:///path"
        )
    return url


def _secret(name: str) -> str | None:
    return os.environ.get(PREFIX + name, "").strip() or None


def _names(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in _get(name, "").split(",") if part.strip())


def load_intake() -> IntakeSettings:
    hosts = _get("SNS_CERT_HOSTS", SNS_CERT_HOSTS_DEFAULT)
    try:
        re.compile(hosts)
    except re.error as exc:
        raise ConfigError(f"{PREFIX}SNS_CERT_HOSTS is not a regular expression: {exc}") from None
    return IntakeSettings(
        mailgun_signing_key=_secret("MAILGUN_SIGNING_KEY"),
        sendgrid_verification_key=_secret("SENDGRID_VERIFICATION_KEY"),
        postmark_user=_secret("POSTMARK_USER"),
        postmark_password=_secret("POSTMARK_PASSWORD"),
        sns_topic_arns=_names("SNS_TOPIC_ARNS"),
        sns_cert_hosts=hosts,
        webhook_max_age=_int("WEBHOOK_MAX_AGE_SECONDS", 300, minimum=1),
        verp_domain=(_secret("VERP_DOMAIN") or "").lower() or None,
        verp_key=_secret("VERP_KEY"),
        max_recipients=_int("MAX_RECIPIENTS", 100, minimum=1),
        clock_skew=_int("CLOCK_SKEW_SECONDS", 300, minimum=0),
        trusted_sources=frozenset(_names("TRUSTED_SOURCES")),
        twilio_auth_token=_secret("TWILIO_AUTH_TOKEN"),
        vonage_signature_secret=_secret("VONAGE_SIGNATURE_SECRET"),
        vonage_signature_method=_vonage_method(_get("VONAGE_SIGNATURE_METHOD", "md5hash")),
        infobip_user=_secret("INFOBIP_USER"),
        infobip_password=_secret("INFOBIP_PASSWORD"),
        public_url=(_secret("PUBLIC_URL") or "").rstrip("/") or None,
    )


def _vonage_method(raw: str) -> str:
    methods = ("md5hash", "md5", "sha1", "sha256", "sha512")
    method = raw.lower().replace("-", "").replace("hmac", "").strip() or "md5hash"
    if method not in methods:
        raise ConfigError(
            f"{PREFIX}VONAGE_SIGNATURE_METHOD must be one of {', '.join(methods)}, got {raw!r}"
        )
    return method


def load_mail_limits() -> MailLimits:
    d = MailLimits()
    return MailLimits(
        max_bytes=_int("MAX_MESSAGE_BYTES", 10 * 1024 * 1024, minimum=1024),
        max_recipients=_int("MAX_RECIPIENTS", d.max_recipients, minimum=1),
        max_headers=_int("MAX_HEADERS", d.max_headers, minimum=10),
        max_header_bytes=_int("MAX_HEADER_BYTES", d.max_header_bytes, minimum=1024),
        max_encoded_words=_int("MAX_ENCODED_WORDS", d.max_encoded_words, minimum=1),
        max_parts=_int("MAX_MIME_PARTS", d.max_parts, minimum=2),
        max_depth=_int("MAX_MIME_DEPTH", d.max_depth, minimum=1),
        max_text_bytes=_int("MAX_TEXT_BYTES", d.max_text_bytes, minimum=1024),
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings; tests call `settings.cache_clear()` after changing env."""
    s = load_settings()
    if s.embedded or s.broker_url.startswith("sqla+sqlite"):
        s.home.mkdir(parents=True, exist_ok=True)
    return s


# One line per setting, read by the settings reference (docs/reference/settings.md is
# generated from this table, with each default taken from load_settings itself), and
# checked by tests/unit/test_docs_reference.py: a BOUNCE_WORKER_* setting read anywhere in
# src/ without a line here fails the tests. Add yours in the same place as the code reading it.
DESCRIPTIONS: dict[str, str] = {
    "HOME": "where the embedded SQLite database and broker files live",
    "DATABASE_URL": "the database: `postgresql://user:pass@host/db` in production (psycopg 3)",
    "BROKER_URL": "the Celery broker: `redis://host:6379/0` in production",
    "QUEUE": "the queue the tasks go to and the workers consume",
    "LADDER_DAYS": "temporary block lengths in days, comma-separated, each longer than the one "
    "before (1 to 20 steps of 1 to 3650 days); the last one repeats",
    "SOFT_BOUNCE_LIMIT": "consecutive soft bounces (no delivery between) before `blacklisted`",
    "QUIET_PERIOD_DAYS": "the temporary-block ladder resets this long after the last block ended",
    "UNLOCK_AT": "time of the nightly unlock of expired temporary blocks, HH:MM",
    "TIMEZONE": "timezone of the nightly jobs' times (Celery beat's `timezone`)",
    "RETENTION_DAYS": "raw event payloads, dead letters and statistics kept this long",
    "MAX_MESSAGE_BYTES": "larger raw messages are dead-lettered (only this much is kept)",
    "BATCH_SIZE": (
        "events per message of `publish` and `POST /v1/events`, and per transaction of `process`"
    ),
    "VISIBILITY_TIMEOUT": "seconds before Redis hands an unacknowledged message to another "
    "worker; a worker refuses to start unless it exceeds the longest hard time limit (1800 s)",
    "TASK_TIME_LIMIT_CAP": "seconds: caps every task's hard time limit (soft limit kept below "
    "it), for a broker whose visibility timeout must stay short; 0 (default) keeps the limits "
    "of limits.py",
    "SECRET_KEY": "HMAC key for erasure (`forget`), at least 32 bytes (make one: `python -c "
    "'import secrets; print(secrets.token_urlsafe(32))'`); no default, set it before forgetting "
    "anyone",
    "LOG_FORMAT": "`text`, or `json` for one JSON object per log line",
    "RECALCULATE_AT": "time of the nightly recalculation of the statistics, HH:MM",
    "HOUSEKEEPING_AT": "time of the nightly housekeeping (count resets, purges), HH:MM",
    "JOB_BATCH_SIZE": "rows per batch and transaction of a nightly job",
    "JOB_WORKERS": "batches of a nightly job run in parallel on PostgreSQL (SQLite: 1)",
    "EVENT_GROUP_SIZE": "one-event messages a worker applies together in one transaction; "
    "also the prefetch per pool process",
    "EVENT_GROUP_WAIT_MS": "the longest a one-event message waits for its group to fill",
    "MAILGUN_SIGNING_KEY": "Mailgun's HTTP webhook signing key (no default: Mailgun refused)",
    "SENDGRID_VERIFICATION_KEY": "SendGrid's signed event webhook public key (base64 DER or PEM)",
    "POSTMARK_USER": "basic-auth user you put in Postmark's webhook URL",
    "POSTMARK_PASSWORD": "basic-auth password you put in Postmark's webhook URL",
    "SNS_TOPIC_ARNS": "comma-separated SNS topic ARNs whose messages are accepted",
    "SNS_CERT_HOSTS": "regular expression the SNS signing certificate's host must match in full",
    "WEBHOOK_MAX_AGE_SECONDS": "signed webhook timestamps older (or further ahead) than this are "
    "refused",
    "VERP_DOMAIN": "the Return-Path domain of VERP addresses",
    "VERP_KEY": "HMAC key of the VERP tokens, at least 32 bytes, like SECRET_KEY (no default: "
    "bounces without a token are unverified)",
    "MAX_RECIPIENTS": "one mail naming more recipients than this is dead-lettered",
    "MAX_HEADERS": "header fields read per header block of a mail (the rest are ignored)",
    "MAX_HEADER_BYTES": "bytes read per header block of a mail, and per header value decoded",
    "MAX_ENCODED_WORDS": "RFC 2047 encoded words decoded per header value (the rest kept as "
    "written)",
    "MAX_MIME_PARTS": "MIME parts read per mail (later parts are ignored)",
    "MAX_MIME_DEPTH": "MIME nesting levels read (deeper parts are not looked into)",
    "MAX_TEXT_BYTES": "bytes of one text part decoded (a bounce's words come first)",
    "CLOCK_SKEW_SECONDS": "an `occurred_at` later than receipt plus this is clamped to receipt",
    "TRUSTED_SOURCES": "comma-separated source names whose mail is verified without a VERP token",
    "CONSOLE_SECRET": "key signing console session cookies, at least 32 bytes like SECRET_KEY "
    "(unset: derived from SECRET_KEY, else random per process, so sessions end on restart)",
    "CONSOLE_SESSION_HOURS": "hours a console sign-in lasts",
    "API_KEY_CACHE_SECONDS": "seconds a server process trusts an API key it verified without "
    "reading its row again: a revoked key is refused within this bound (0: every request)",
    "SMS_NUMBERS": "sending number -> organization (and list): `+15550001111=org` or "
    "`+15550001111=org/list`, comma-separated",
    "CROSS_CHANNEL_ORGANIZATIONS": "organizations (comma-separated, `*` for all) whose "
    "complaints and unsubscribes also suppress the contact's other channels",
    "TWILIO_AUTH_TOKEN": "Twilio auth token, the key of `X-Twilio-Signature` (no default: "
    "Twilio refused)",
    "VONAGE_SIGNATURE_SECRET": "Vonage signature secret: signed webhooks (JWT) and SMS `sig` "
    "(no default: Vonage refused)",
    "VONAGE_SIGNATURE_METHOD": "the `sig` algorithm chosen in Vonage's dashboard: md5hash, md5, "
    "sha1, sha256 or sha512",
    "INFOBIP_USER": "basic-auth user of Infobip's notification profile (BASIC security settings)",
    "INFOBIP_PASSWORD": "basic-auth password of Infobip's notification profile",
    "PUBLIC_URL": "this service's base URL as gateways call it (`https://bounce.example.org`); "
    "Twilio signs the full URL",
}
