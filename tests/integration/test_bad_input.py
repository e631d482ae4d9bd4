"""Bad input at every entry point: never a crash, never silently dropped. Each input is
either applied (its event id claimed), a duplicate of one already applied, or a dead letter
with a reason, and the counts add up."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from bounce_worker.store.models import DeadLetterRow, ProcessedEventRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, run_cli, set_env, wait_until
from tests.messages import publish

LIMIT = 4096  # BOUNCE_WORKER_MAX_MESSAGE_BYTES for these tests

VALID: dict[str, Any] = {
    "event_id": "ok-1",
    "type": "bounce",
    "recipient": "user@example.org",
    "status": "5.1.1",
    "smtp_code": 550,
    "diagnostic": "550 5.1.1 user unknown",
    "occurred_at": "2026-11-22T10:00:00Z",
    "organization": "acme",
}
DSN = (
    b"From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; "
    b'report-type=delivery-status; boundary="b1"\r\n\r\n--b1\r\n'
    b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
    b"Final-Recipient: rfc822; user@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n--b1--\r\n"
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
nasty_text = st.sampled_from(
    ["", " ", "not an address", "a@", "@b.org", "a@b@c.org", "ü@例え.テスト", "a\x00b@c.org",
     "x" * 5000, "+1", "2026-13-45T99:00:00Z", "5.1.1.1", "\ud800", "\u202e@rtl.org"]
)  # fmt: skip
# A valid event with one field replaced: wrong type, nasty text, huge, or removed.
mutated_events = st.builds(
    lambda field, value, drop: (
        {k: v for k, v in VALID.items() if k != field}
        if drop
        else VALID | {field: value}
    ),
    st.sampled_from([*VALID, "channel", "list", "source", "feedback_type", "unknown_field"]),
    json_values | nasty_text | st.text(min_size=LIMIT, max_size=LIMIT + 100),
    st.booleans(),
).map(lambda e: e | {"event_id": json.dumps(e.get("event_id"))[:200] + str(id(e))}
      if isinstance(e.get("event_id"), str) else e)  # fmt: skip

payloads = st.one_of(
    mutated_events,
    json_values,
    st.binary(max_size=300),
    st.text(max_size=300),
    st.integers(min_value=1, max_value=len(json.dumps(VALID)) - 1).map(
        lambda n: json.dumps(VALID)[:n]  # truncated JSON
    ),
    st.integers(min_value=0, max_value=len(DSN)).map(lambda n: DSN[:n]),  # truncated MIME
    st.just(json.dumps(VALID | {"diagnostic": "y" * LIMIT})),  # over the size limit
)


def counts(engine: Engine) -> tuple[int, int]:
    with UnitOfWork(engine) as uow:
        s = uow.session
        return (
            s.scalar(select(func.count()).select_from(ProcessedEventRow)) or 0,
            s.scalar(select(func.count()).select_from(DeadLetterRow)) or 0,
        )


@pytest.fixture
def bad_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, pg_engine: Engine,
            pg_url: str) -> Engine:  # fmt: skip
    set_env(monkeypatch, database_url=pg_url, max_message_bytes=str(LIMIT))
    return pg_engine


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=payloads)
def test_task_in_process_applies_or_dead_letters_everything(bad_env: Engine, payload: Any) -> None:
    from bounce_worker.tasks import process_event

    applied, dead = counts(bad_env)
    # The task body, in this process, as a group of one (what celery-batches' apply does).
    (result,) = process_event.apply((payload,)).get()
    new_applied, new_dead = counts(bad_env)
    moved = {
        "applied": (new_applied - applied, new_dead - dead) == (1, 0),
        "duplicate": (new_applied - applied, new_dead - dead) == (0, 0),
        "dead_lettered": (new_applied - applied, new_dead - dead) == (0, 1),
    }
    assert moved[result], (result, new_applied - applied, new_dead - dead)
    if result == "dead_lettered":
        with UnitOfWork(bad_env) as uow:
            row = uow.session.scalars(
                select(DeadLetterRow).order_by(DeadLetterRow.id.desc())
            ).first()
        assert row is not None and row.reason and len(row.payload) <= LIMIT


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(payloads, min_size=20, max_size=60))
def test_cli_process_counts_add_up(
    bad_env: Engine, lines: list[Any], tmp_path_factory: Any
) -> None:
    raw = [
        (p if isinstance(p, bytes) else p if isinstance(p, str) else json.dumps(p)).__str__()
        if not isinstance(p, bytes) else p
        for p in lines
    ]  # fmt: skip
    data = [r if isinstance(r, bytes) else r.encode("utf-8", "surrogatepass") for r in raw]
    data = [b.replace(b"\n", b" ") for b in data]  # one input per line
    feed = tmp_path_factory.mktemp("feed") / "bad.jsonl"
    feed.write_bytes(b"\n".join(data) + b"\n")
    expected = sum(1 for b in data if b.decode("utf-8", "surrogateescape").strip())
    applied, dead = counts(bad_env)
    out = run_cli("process", str(feed))
    assert out.returncode == 0, out.stderr
    words = out.stdout.replace(",", "").split()  # applied A duplicates D dead-lettered X
    a, d, x = int(words[1]), int(words[3]), int(words[5])
    assert a + d + x == expected
    assert counts(bad_env) == (applied + a, dead + x)


def test_real_worker_applies_or_dead_letters_every_message(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, worker_env: Engine, redis_url: str
) -> None:
    set_env(monkeypatch, max_message_bytes=str(LIMIT))
    queue = os.environ["BOUNCE_WORKER_QUEUE"]
    inputs: list[Any] = [
        VALID,
        VALID,  # a duplicate
        "{broken",
        json.dumps(VALID)[:40],
        42,
        None,
        [VALID],
        VALID | {"recipient": "not an address"},
        VALID | {"recipient": "\ud800@example.org"},
        VALID | {"event_id": "big", "diagnostic": "y" * LIMIT},
        VALID | {"event_id": "nul", "diagnostic": "a\x00b"},
        VALID | {"event_id": "st", "status": 5.11},
        VALID | {"event_id": "t", "occurred_at": "yesterday"},
        DSN.decode(),
        "\udcff\udcfe",
    ]
    worker = Worker().start()
    try:
        for payload in inputs:
            publish(redis_url, queue, (payload,), "json")
        wait_until(lambda: sum(counts(worker_env)) == len(inputs) - 1)
    finally:
        worker.stop()
    assert counts(worker_env) == (1, len(inputs) - 2)
    log = worker.log.read_text(errors="replace")
    assert log.count("'duplicate'") == 1 and "Traceback" not in log


def test_cli_refuses_nothing_silently_on_non_utf8(bad_env: Engine, tmp_path: Path) -> None:
    feed = tmp_path / "latin1.jsonl"
    feed.write_bytes(json.dumps(VALID).encode() + b"\n\xff\xfe{\xe9}\n")
    out = run_cli("process", str(feed))
    assert out.returncode == 0 and out.stdout.strip() == "applied 1, duplicates 0, dead-lettered 1"
    with UnitOfWork(bad_env) as uow:
        row = uow.session.scalars(select(DeadLetterRow)).one()
    assert row.payload == b"\xff\xfe{\xe9}"  # stored byte for byte


FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "parsers" / "fixtures"
MAILS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]
HOOKS = {p.stem.split("_")[0]: json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))}

raw_mails = st.one_of(
    st.binary(max_size=500),
    st.tuples(st.sampled_from(MAILS), st.floats(0, 1)).map(lambda m: m[0][: int(len(m[0]) * m[1])]),
    st.tuples(st.sampled_from(MAILS), st.binary(max_size=40), st.integers(0, 2000)).map(
        lambda m: m[0][: m[2]] + m[1] + m[0][m[2] :]  # noise spliced in
    ),
    st.just(b"X" * (LIMIT + 1)),
)
webhooks = st.tuples(
    st.sampled_from([*HOOKS, "unknown-esp"]),
    json_values | st.sampled_from(list(HOOKS.values())).map(lambda h: _mangle(h)),
)


def _mangle(hook: Any) -> Any:
    """A real webhook body with its first level of values replaced by the wrong types."""
    if isinstance(hook, dict):
        return {k: (42 if i % 2 else None) for i, k in enumerate(hook)}
    if isinstance(hook, list):
        return [_mangle(h) for h in hook] + [None, "x"]
    return hook


def check_counts(engine: Engine, before: tuple[int, int], results: Any) -> None:
    applied, dead = counts(engine)
    assert applied - before[0] == results.get("applied", 0)
    assert dead - before[1] == results.get("dead_lettered", 0)
    assert sum(results.values()) >= 1  # every input is accounted for


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=raw_mails)
def test_raw_mail_task_applies_or_dead_letters(bad_env: Engine, raw: bytes) -> None:
    import base64

    from bounce_worker.tasks import ingest_raw

    before = counts(bad_env)
    check_counts(bad_env, before, ingest_raw(base64.b64encode(raw).decode()))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(hook=webhooks)
def test_webhook_task_applies_or_dead_letters(bad_env: Engine, hook: tuple[str, Any]) -> None:
    from bounce_worker.tasks import ingest_webhook

    before = counts(bad_env)
    check_counts(bad_env, before, ingest_webhook(*hook))
