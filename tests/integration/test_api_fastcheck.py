"""GET /v1/check's framework-free fast path (http/v1/fastcheck.py) answers exactly as the
FastAPI route does: the same calls, against a server whose key cache is off (every call
goes through the route) and one whose cache is on (calls after the first take the fast
path), give the same status and the same bytes; refusals are audited by both."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from sqlalchemy import Engine, select

from bounce_worker import api, credentials
from bounce_worker.clock import utcnow
from bounce_worker.store.models import AuditRow
from tests.conftest import set_env
from tests.integration.http_server import Server


def seed(engine: Engine) -> None:
    def add(target: str, **kw: str) -> None:
        api.suppress(target, reason="seed", actor="seed", engine=engine, **kw)  # type: ignore[arg-type]

    add("hard@example.org", state="blocked", scope="global")
    add("Jane@Example.org", organization="acme")
    add("weekly@example.org", organization="acme", scope="list", list="weekly")
    add("@blocked.example", state="blocked", organization="acme")
    add("+4915112345678", organization="acme")
    add("globex@example.org", organization="globex")


CALLS: list[tuple[str, str]] = [
    ("sender", "address=hard@example.org"),
    ("sender", "address=jane@example.org"),
    ("sender", "address=JANE%40example.ORG"),
    ("sender", "address=weekly@example.org"),
    ("sender", "address=weekly@example.org&list=weekly"),
    ("sender", "address=anyone@blocked.example"),
    ("sender", "address=%2B4915112345678&channel=sms"),
    ("sender", "address=globex@example.org"),
    ("sender", "address=fine@example.org"),
    ("sender", "address=f%C3%BCr@example.org"),
    ("support", "address=jane@example.org&organization=acme"),
    ("support", "address=globex@example.org&organization=globex"),
    ("support", "address=jane@example.org"),
    ("owner", "address=jane@example.org&organization=acme"),
    # Not ordinary: answered by the route on both servers.
    ("owner", "address=jane@example.org&organization=globex"),  # 403, audited
    ("producer", "address=jane@example.org"),  # 403, audited
    ("sender", "address=not-an-address"),  # 422
    ("sender", "address=a@example.org&channel=fax"),  # 422
    ("sender", "address=a@example.org&address=b@example.org"),  # repeated: the route's rule
    ("sender", "address="),
    ("sender", "channel=email"),  # no address: 422
    ("sender", "address=a@example.org&extra=1"),
]


def answers(url: str, keys: dict[str, str]) -> list[tuple[int, bytes]]:
    out = []
    for role, query in CALLS * 2:  # twice: the second round finds every key verified
        headers = {"Authorization": f"Bearer {keys[role]}"}
        response = httpx.get(f"{url}/v1/check?{query}", headers=headers, timeout=30)
        out.append((response.status_code, response.content))
    return out


def test_fast_path_answers_as_the_route(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(worker_env)
    keys = {
        role: credentials.create(
            worker_env, role=role, organization="acme", now=utcnow(), name=role
        ).key
        for role in ("sender", "owner", "producer")
    }
    keys["support"] = credentials.create(
        worker_env, role="support", organization=None, name="support", now=utcnow()
    ).key
    results = {}
    for cache in ("0", "30"):
        set_env(monkeypatch, api_key_cache_seconds=cache)
        server = Server().start()
        try:
            results[cache] = answers(server.url, keys)
        finally:
            server.stop()
    by_route, fast = results["0"], results["30"]
    assert fast == by_route
    statuses = Counter(status for status, _ in fast)
    assert statuses[200] >= 28 and statuses[403] == 4 and statuses[422] >= 6, statuses
    first = dict(zip((q for _, q in CALLS), (b for _, b in fast), strict=False))
    assert first["address=hard@example.org"].startswith(b'{"address":"hard@example.org"')
    assert b'"may_send":false' in first["address=anyone@blocked.example"]
    assert (
        b'"scope":"organization/acme (domain blocked.example)"'
        in (first["address=anyone@blocked.example"])
    )
    assert b'"may_send":true' in first["address=globex@example.org"]
    with worker_env.connect() as conn:
        denied = (
            conn.execute(select(AuditRow.action).where(AuditRow.outcome == "denied"))
            .scalars()
            .all()
        )
    assert denied == ["GET /v1/check"] * 8  # 2 refusals x 2 rounds x 2 servers
