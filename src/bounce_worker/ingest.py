"""Raw feedback in: a bounce mail, an ESP or SMS webhook becomes events, applied together
by the one writer (apply.apply_events: one transaction per mail or webhook, in the order
of their occurred_at), or the input is dead-lettered. The parsers are pure; this module
is their service-layer entry point."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bounce_worker import contacts
from bounce_worker import limits as caps
from bounce_worker.apply import Result, apply_events
from bounce_worker.config import IntakeSettings, Settings
from bounce_worker.domain import trust
from bounce_worker.domain.events import Event
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.observability import metrics
from bounce_worker.parsers import NotFeedback, ParseError, parse_message, parse_webhook
from bounce_worker.parsers.sms import Owner, SmsContext, parse_sms
from bounce_worker.service import dead_letter

log = logging.getLogger("bounce_worker.ingest")


def ingest_configured(
    engine: Engine,
    raw: bytes,
    s: Settings,
    *,
    source: str | None,
    now: datetime,
    envelope: Sequence[str] = (),
) -> Counter[Result]:
    """`ingest_raw` under the settings' policy, size limits and intake: how the worker,
    `process` and a replay ingest a mail."""
    return ingest_raw(
        engine,
        raw,
        source=source,
        policy=s.policy,
        now=now,
        max_bytes=s.max_message_bytes,
        intake=s.intake,
        envelope=envelope,
        limits=s.mail_limits,
    )


def ingest_raw(
    engine: Engine,
    raw: bytes,
    *,
    source: str | None,
    policy: PolicySettings,
    now: datetime,
    max_bytes: int | None = None,
    intake: IntakeSettings | None = None,
    envelope: Sequence[str] = (),
    limits: caps.MailLimits | None = None,
) -> Counter[Result]:
    """One raw mail (DSN, MTA bounce, ARF report, unsubscribe mail), judged by its VERP
    token (SPEC 7) whichever way it came in; `envelope`: the recipients the MTA delivered
    it to (pipe, LMTP), where the VERP address usually is. Parsed under `limits` (default:
    the defaults, with `max_bytes` and the intake's recipient cap)."""
    intake = intake or IntakeSettings()
    if limits is None:
        limits = caps.MailLimits(
            max_bytes=max_bytes or caps.DEFAULT.max_bytes, max_recipients=intake.max_recipients
        )
    if len(raw) > limits.max_bytes:
        return oversized(engine, raw, len(raw), caps.digest(raw), limits.max_bytes, source, now)
    try:
        events = parse_message(raw, received_at=now, limits=limits)
    except NotFeedback as exc:
        log.info("ignored %s: %s", source, exc, extra={"source": source, "reason": str(exc)})
        return Counter({Result.IGNORED: 1})
    except ParseError as exc:
        return _dead(engine, "raw", source, raw, str(exc), now)
    too_many = trust.too_many_recipients(events, intake.max_recipients)
    if too_many:
        return _dead(engine, "raw", source, raw, too_many, now)
    domain = intake.verp_domain
    candidates = [*envelope, *(trust.verp_candidates(raw, domain) if domain else [])]
    events = trust.attribute_mail(
        events,
        candidates,
        key=intake.verp_key,
        domain=domain,
        trusted_source=source is not None and source in intake.trusted_sources,
    )
    events = _clamped(events, now, intake)
    _count_unverified("raw", events)
    return _apply(engine, events, policy, now)


def oversized(
    engine: Engine,
    head: bytes,
    size: int,
    sha256: str,
    limit: int,
    source: str | None,
    now: datetime,
) -> Counter[Result]:
    """A raw mail over the size limit: dead-lettered with its first bytes only (`head` is
    the mail, or the part of it a producer sent), its size and its SHA-256."""
    reason = caps.oversize_reason(size, sha256, limit)
    return _dead(engine, "raw", source, head[: caps.kept(limit)], reason, now)


def _clamped(events: Sequence[Event], now: datetime, intake: IntakeSettings) -> list[Event]:
    skew = timedelta(seconds=intake.clock_skew)
    return [trust.clamp_time(event, now, skew) for event in events]


def _count_unverified(kind: str, events: Sequence[Event]) -> None:
    for event in events:
        if not event.verified:
            metrics.unverified(kind)


def ingest_webhook(
    engine: Engine,
    provider: str,
    payload: Any,
    *,
    source: str | None,
    policy: PolicySettings,
    now: datetime,
    intake: IntakeSettings | None = None,
) -> Counter[Result]:
    """One ESP webhook delivery (SES via SNS, SendGrid, Mailgun, Postmark). Only `serve`
    publishes these, after checking the provider's signature: the events are verified,
    attributed by the provider's own metadata (SPEC 7)."""
    try:
        events = parse_webhook(provider, payload)
    except ParseError as exc:
        stored = json.dumps({"provider": provider, "payload": payload}, default=str)
        return _dead(engine, "webhook", source, stored, str(exc), now)
    events = _clamped(events, now, intake or IntakeSettings())
    return _apply(engine, events, policy, now)


def ingest_sms(
    engine: Engine,
    gateway: str,
    payload: Any,
    *,
    source: str | None,
    policy: PolicySettings,
    now: datetime,
    received_at: datetime,
    numbers: Mapping[str, tuple[str, str | None]],
) -> Counter[Result]:
    """One SMS gateway webhook (delivery report or inbound reply), already authenticated."""
    ctx = SmsContext(
        received_at=received_at,
        numbers={k: Owner(org, lst) for k, (org, lst) in numbers.items()},
    )
    try:
        events = parse_sms(gateway, payload, ctx)
    except NotFeedback as exc:
        log.info("ignored %s: %s", source, exc, extra={"source": source, "reason": str(exc)})
        return Counter({Result.IGNORED: 1})
    except ParseError as exc:
        stored = json.dumps({"gateway": gateway, "payload": payload}, default=str)
        return _dead(engine, "webhook", source, stored, str(exc), now)
    return _apply(engine, events, policy, now)


def _apply(
    engine: Engine, events: Sequence[Event], policy: PolicySettings, now: datetime
) -> Counter[Result]:
    """One input's events through the one writer (one transaction), then their contact
    links and the cross-channel rule (contacts.follow)."""
    results = Counter(apply_events(engine, events, policy=policy, now=now))
    contacts.follow(engine, events, policy=policy, now=now)
    return results


def _dead(
    engine: Engine, kind: str, source: str | None, payload: Any, reason: str, now: datetime
) -> Counter[Result]:
    dead_letter(engine, kind, source, payload, reason, now)
    return Counter({Result.DEAD_LETTERED: 1})
