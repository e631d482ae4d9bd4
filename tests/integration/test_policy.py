"""Per-organization policy (issue 15 item 4): an organization's own soft-bounce limit and
ladder, set with the CLI or PUT /v1/policy, applied by `process` and by a real worker;
other organizations keep the environment's defaults."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from bounce_worker import api, credentials, org_policy
from bounce_worker.clock import utcnow
from bounce_worker.store.models import AuditRow
from tests.conftest import Worker, run_cli, wait_until
from tests.integration.http_server import Server

AT = "2026-11-30T10:00:00Z"


def soft(n: int, recipient: str, org: str) -> dict[str, object]:
    return {"event_id": f"soft-{recipient}-{n}", "type": "bounce", "recipient": recipient,
            "organization": org, "status": "4.4.1", "smtp_code": 421,
            "diagnostic": "421 4.4.1 connection timed out", "occurred_at": AT}  # fmt: skip


def full(recipient: str, org: str) -> dict[str, object]:
    return {"event_id": f"full-{recipient}", "type": "bounce", "recipient": recipient,
            "organization": org, "status": "5.2.2", "smtp_code": 552,
            "diagnostic": "552 5.2.2 mailbox full", "occurred_at": AT}  # fmt: skip


def feed(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def blocked_days(engine: Engine, address: str) -> float:
    until = api.check(address, engine=engine).blocked_until
    assert until is not None
    start = datetime.fromisoformat(AT.replace("Z", "+00:00"))
    return (datetime.fromisoformat(until.replace("Z", "+00:00")) - start) / timedelta(days=1)


def test_an_organizations_own_numbers_apply_to_its_events_only(
    worker_env: Engine, tmp_path: Path
) -> None:
    done = run_cli("policy", "set", "pacme", "--soft-bounce-limit", "2", "--ladder", "2,4")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pacme: soft-bounce limit 2, ladder 2,4 days"
    shown = run_cli("policy", "show", "pglobex")
    assert (
        shown.stdout.strip()
        == "pglobex: soft-bounce limit 5 (default), ladder 1,2,3,90 days (default)"
    )
    bad = run_cli("policy", "set", "pacme", "--ladder", "1,x")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    # A ladder that does not climb (SPEC 3: 1, 2, 3, then 90 days) was taken; a blank one
    # read as not given and kept the old ladder without a word.
    for ladder, says in (
        ("3,1", "a ladder climbs: each step longer than the one before (like 1,2,3,90); "
                "got '3,1'"),
        ("2,2", "a ladder climbs"),
        ("0,1", "a ladder is 1 to 20 steps of 1 to 3650 days; got '0,1'"),
        ("", "the ladder is empty: give days like 1,2,3,90, or leave it out"),
    ):  # fmt: skip
        bad = run_cli("policy", "set", "pacme", "--ladder", ladder)
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1, bad.stderr
        assert says in bad.stderr and "Traceback" not in bad.stderr
    assert "ladder 2,4 days" in run_cli("policy", "show", "pacme").stdout  # unchanged

    events = [
        soft(n, f"{org}-soft@example.org", org) for n in (1, 2) for org in ("pacme", "pglobex")
    ]
    events += [full("pacme-full@example.org", "pacme"), full("pglobex-full@example.org", "pglobex")]
    assert run_cli("process", str(feed(tmp_path / "a.jsonl", events))).returncode == 0
    acme = api.check("pacme-soft@example.org", organization="pacme", engine=worker_env)
    assert (acme.state, acme.reason) == ("blacklisted", "soft_bounce_limit")
    assert api.check("pglobex-soft@example.org", organization="pglobex", engine=worker_env).may_send
    assert blocked_days(worker_env, "pacme-full@example.org") == 2
    assert blocked_days(worker_env, "pglobex-full@example.org") == 1

    # Over HTTP: the owner sets its own organization's (audited), never another's.
    owner = credentials.create(worker_env, role="owner", organization="pglobex", name="g",
                               now=utcnow()).key  # fmt: skip
    server = Server().start()
    try:
        headers = {"Authorization": f"Bearer {owner}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            put = http.put("/v1/policy", json={"soft_bounce_limit": 1, "reason": "contract §4"})
            assert put.status_code == 200, put.text
            assert put.json() == {
                "organization": "pglobex", "soft_bounce_limit": 1, "ladder_days": [1, 2, 3, 90],
                "overrides": {"soft_bounce_limit": 1, "ladder_days": None},
            }  # fmt: skip
            other = http.put("/v1/policy", json={"organization": "pacme", "soft_bounce_limit": 9,
                                                 "reason": "x"})  # fmt: skip
            assert other.status_code == 403
            falling = http.put("/v1/policy", json={"ladder_days": [3, 1], "reason": "x"})
            assert falling.status_code == 422, falling.text
            assert "a ladder climbs" in falling.text
            assert http.get("/v1/policy").json()["soft_bounce_limit"] == 1
    finally:
        server.stop()
    with worker_env.connect() as conn:
        audited = conn.execute(select(AuditRow.action, AuditRow.outcome)).all()
    assert ("PUT /v1/policy", "done") in audited and ("PUT /v1/policy", "denied") in audited
    assert ("policy set", "done") in audited

    # A real worker picks the organization's number up (read before each task, 30 s cache).
    published = run_cli("publish", str(feed(tmp_path / "b.jsonl", [soft(1, "g2@example.org",
                                                                          "pglobex")])))  # fmt: skip
    assert published.returncode == 0, published.stderr
    worker = Worker().start()
    try:
        wait_until(
            lambda: (
                api.check("g2@example.org", organization="pglobex", engine=worker_env).state
                == "blacklisted"
            ),
            timeout=90,
        )
    finally:
        worker.stop()
    mine = {o.organization for o in org_policy.listing(worker_env)} & {"pacme", "pglobex"}
    assert mine == {"pacme", "pglobex"}
    run_cli("policy", "set", "pacme", "--default")
    run_cli("policy", "set", "pglobex", "--default")
    assert not {o.organization for o in org_policy.listing(worker_env)} & {"pacme", "pglobex"}
