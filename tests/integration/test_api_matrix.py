"""Every /v1 route x every role x own / other organization, against the real server.

Each allowed call succeeds (2xx); every other one is 403 and leaves a `denied` row in the
audit log with the key and the route. The organization comes from the key: naming another
one is refused for an organization's key, and no route takes a role from the request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from bounce_worker import api, credentials, org_policy, service
from bounce_worker.clock import utcnow
from bounce_worker.store.models import AuditRow
from tests.conftest import set_env
from tests.integration.api_support import client
from tests.integration.http_server import Server

ROLES = ("sender", "owner", "support", "producer")
OWN, OTHER = "acme", "globex"


@pytest.fixture
def server(worker_env: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    set_env(monkeypatch, secret_key="matrix-test-secret-of-32-bytes-or-more")
    s = Server().start()
    yield s
    s.stop()


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as the audit log names it
    allowed: frozenset[str]
    # (role, case) -> (url, keyword arguments of httpx.request); case is "own" or "other"
    request: Callable[[str, str], tuple[str, dict[str, Any]]]
    org_scoped: bool = True  # False: the route names no organization (forget, dead letters)


def _org(case: str) -> str:
    return OWN if case == "own" else OTHER


def routes(dead: list[int]) -> list[Route]:
    checkers = frozenset({"sender", "owner", "support"})
    operators = frozenset({"owner", "support"})
    support = frozenset({"support"})
    ids = iter(dead)

    def change(kind: str, state: str | None = None) -> Callable[[str, str], tuple[str, dict]]:
        def build(role: str, case: str) -> tuple[str, dict[str, Any]]:
            body: dict[str, Any] = {
                "target": f"{kind}-{role}-{case}@example.org",
                "organization": _org(case),
                "reason": f"matrix {kind}",
            }
            if state:
                body["state"] = state
            return f"/v1/{kind}", {"json": body}

        return build

    def query(path: str, **params: Any) -> Callable[[str, str], tuple[str, dict]]:
        return lambda role, case: (path, {"params": {**params, "organization": _org(case)}})

    return [
        Route("GET", "/v1/check", checkers, query("/v1/check", address="jane@example.org")),
        Route(
            "POST",
            "/v1/check",
            checkers,
            lambda role, case: (
                "/v1/check",
                {
                    "json": {
                        "addresses": ["jane@example.org", "x@y.org"],
                        "organization": _org(case),
                    }
                },
            ),
        ),
        Route("GET", "/v1/contacts/{address}", operators, query("/v1/contacts/jane@example.org")),
        Route("POST", "/v1/suppress", operators, change("suppress", "blacklisted")),
        Route("POST", "/v1/lift", operators, change("lift")),
        Route("POST", "/v1/delete", operators, change("delete")),
        Route("POST", "/v1/restore", operators, change("restore")),
        Route("GET", "/v1/export", operators, query("/v1/export", format="email")),
        Route(
            "POST",
            "/v1/import-check",
            checkers,
            lambda role, case: (
                "/v1/import-check",
                {"params": {"organization": _org(case)}, "content": b"email\njane@example.org\n"},
            ),
        ),
        Route(
            "POST",
            "/v1/forget",
            support,
            lambda role, case: (
                "/v1/forget",
                {"json": {"address": f"forget-{role}-{case}@example.org", "reason": "GDPR 17"}},
            ),
            org_scoped=False,
        ),
        Route("GET", "/v1/stats", operators, query("/v1/stats")),
        Route(
            "GET",
            "/v1/dead-letters",
            support,
            lambda role, case: ("/v1/dead-letters", {}),
            org_scoped=False,
        ),
        Route(
            "POST",
            "/v1/dead-letters/replay",
            support,
            lambda role, case: (
                "/v1/dead-letters/replay",
                {"json": {"ids": [next(ids)] if role == "support" else [1], "reason": "fixed"}},
            ),
            org_scoped=False,
        ),
        Route(
            "POST",
            "/v1/dead-letters/discard",
            support,
            lambda role, case: (
                "/v1/dead-letters/discard",
                {"json": {"ids": [next(ids)] if role == "support" else [1], "reason": "junk"}},
            ),
            org_scoped=False,
        ),
        Route("GET", "/v1/audit", operators, query("/v1/audit")),
        Route("GET", "/v1/policy", operators, query("/v1/policy")),
        Route(
            "PUT",
            "/v1/policy",
            operators,
            lambda role, case: (
                "/v1/policy",
                {"json": {"organization": _org(case), "soft_bounce_limit": 7, "reason": "m"}},
            ),
        ),
        Route(
            "POST",
            "/v1/events",
            frozenset({"producer", "support"}),
            lambda role, case: (
                "/v1/events",
                {
                    "json": {
                        "event_id": f"matrix-{role}-{case}",
                        "type": "complaint",
                        "recipient": f"event-{role}-{case}@example.org",
                        "organization": _org(case),
                        "occurred_at": "2026-11-30T10:00:00Z",
                    }
                },
            ),
        ),
        Route("GET", "/v1/me", frozenset(ROLES), lambda role, case: ("/v1/me", {}), False),
    ]


def seed(engine: Engine) -> list[int]:
    """Entries each allowed change acts on, in both organizations; dead letters to replay."""
    now = utcnow()
    for org in (OWN, OTHER):
        api.suppress("jane@example.org", organization=org, reason="seed", actor="seed",
                     engine=engine)  # fmt: skip
        for role in ("owner", "support"):
            for case in ("own", "other"):
                for kind in ("lift", "delete", "restore"):
                    target = f"{kind}-{role}-{case}@example.org"
                    api.suppress(target, organization=org, reason="seed", actor="seed",
                                 engine=engine)  # fmt: skip
                    if kind == "restore":
                        api.delete(target, organization=org, reason="seed", actor="seed",
                                   role="support", engine=engine)  # fmt: skip
    return [
        service.dead_letter(engine, "event", "matrix", b"{not json", "not valid JSON", now)
        for _ in range(4)
    ]


def test_every_route_every_role_own_and_other_organization(
    server: Server, worker_env: Engine
) -> None:
    engine = worker_env
    dead = seed(engine)
    keys: dict[str, credentials.NewKey] = {
        role: credentials.create(
            engine, role=role, organization=OWN, name=f"{role}-of-{OWN}", now=utcnow()
        )
        for role in ROLES
    }
    expected_denials: Counter[tuple[str, str]] = Counter()
    answered: list[str] = []
    for route in routes(dead):
        for role in ROLES:
            for case in ("own", "other") if route.org_scoped else ("own",):
                url, kwargs = route.request(role, case)
                with client(server.url, keys[role].key) as http:
                    response = http.request(route.method, url, **kwargs)
                # support is platform-wide: naming another organization is its job.
                allowed = role in route.allowed and (case == "own" or role == "support")
                call = f"{role} {route.method} {url} ({case})"
                if allowed:
                    assert 200 <= response.status_code < 300, f"{call}: {response.text}"
                else:
                    assert response.status_code == 403, f"{call}: {response.text}"
                    assert response.json()["error"], call
                    expected_denials[
                        (keys[role].principal.key_id, f"{route.method} {route.path}")
                    ] += 1
                answered.append(call)

    for org in (OWN, OTHER):  # the run's database: leave no policy to other tests
        org_policy.set_policy(engine, org, soft_bounce_limit=None, ladder_days=None,
                              now=utcnow(), actor="matrix")  # fmt: skip
    with engine.connect() as conn:
        denied = conn.execute(
            select(AuditRow.key_id, AuditRow.action).where(AuditRow.outcome == "denied")
        ).all()
    assert Counter((k, a) for k, a in denied) == expected_denials
    assert sum(expected_denials.values()) > 40 and len(answered) > 95


@pytest.fixture
def keys(server: Server, worker_env: Engine) -> dict[str, credentials.NewKey]:
    out = {
        role: credentials.create(
            worker_env, role=role, organization=OWN, name=f"{role}@{OWN}", now=utcnow()
        )
        for role in ROLES
    }
    out["other-owner"] = credentials.create(
        worker_env, role="owner", organization=OTHER, name=f"owner@{OTHER}", now=utcnow()
    )
    return out


def _call(
    server: Server, key: credentials.NewKey, method: str, url: str, **kw: Any
) -> httpx.Response:
    with client(server.url, key.key) as http:
        return http.request(method, url, **kw)


def test_no_role_or_organization_from_the_request_widens_a_key(
    server: Server, worker_env: Engine, keys: dict[str, credentials.NewKey]
) -> None:
    api.suppress("angry@example.org", state="blocked", organization=OWN, reason="complaint",
                 actor="seed", engine=worker_env)  # fmt: skip
    owner = keys["owner"]
    body = {"target": "angry@example.org", "reason": "please"}
    # A role in the body is not a field of any route: refused before anything happens.
    for extra in ({"role": "support"}, {"actor": "support-team"}):
        answer = _call(server, owner, "POST", "/v1/lift", json=body | extra)
        assert answer.status_code == 422, answer.text
    # A role in the query string is ignored: the key's role decides, and it is refused.
    answer = _call(server, owner, "POST", "/v1/lift", params={"role": "support"}, json=body)
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "only support may lift a blocked entry (with a written reason)"
    }
    # Another organization named in the body: refused, not narrowed.
    answer = _call(server, owner, "POST", "/v1/lift", json=body | {"organization": OTHER})
    assert answer.status_code == 403
    assert "belongs to organization 'acme', not 'globex'" in answer.json()["error"]
    # A global entry is support's.
    answer = _call(server, owner, "POST", "/v1/suppress",
                   json={"target": "t@example.org", "scope": "global", "reason": "x"})  # fmt: skip
    assert answer.status_code == 403
    assert api.check("angry@example.org", organization=OWN, engine=worker_env).state == "blocked"
    # A producer's event naming another organization (or a role) is refused, not narrowed;
    # an owner cannot post events by saying it is support.
    complaint = {"event_id": "widen-1", "type": "complaint", "recipient": "a@example.org",
                 "organization": OTHER, "occurred_at": "2026-11-30T10:00:00Z"}  # fmt: skip
    answer = _call(server, keys["producer"], "POST", "/v1/events", json=complaint)
    assert answer.status_code == 403 and "not 'globex'" in answer.json()["error"]
    answer = _call(server, keys["producer"], "POST", "/v1/events",
                   json=complaint | {"organization": OWN, "role": "support"})  # fmt: skip
    assert answer.status_code == 422 and "unknown field(s): role" in answer.json()["error"]
    answer = _call(server, owner, "POST", "/v1/events", params={"role": "producer"},
                   json=complaint | {"organization": OWN})  # fmt: skip
    assert answer.status_code == 403

    # Support lifts it; the transition names the key's holder, the audit has it all.
    answer = _call(server, keys["support"], "POST", "/v1/lift",
                   json=body | {"organization": OWN, "reason": "withdrawn in writing"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["to_state"] == "active"
    history = api.history("angry@example.org", organization=OWN, engine=worker_env)
    support_actor = keys["support"].principal.actor
    assert (history[-1]["actor"], history[-1]["note"]) == (support_actor, "withdrawn in writing")

    log = _call(server, keys["support"], "GET", "/v1/audit").json()["rows"]
    outcomes = [(r["action"], r["role"], r["outcome"]) for r in log]
    assert outcomes[0] == ("POST /v1/lift", "support", "done")
    assert outcomes.count(("POST /v1/lift", "owner", "denied")) == 2
    assert ("POST /v1/suppress", "owner", "denied") in outcomes
    assert ("POST /v1/events", "producer", "denied") in outcomes
    assert ("POST /v1/events", "owner", "denied") in outcomes
    # The owner's own view of the audit log holds its organization's rows only.
    own_view = _call(server, owner, "GET", "/v1/audit").json()["rows"]
    assert own_view and all(r["organization"] == OWN for r in own_view)


def test_an_owner_sees_and_changes_only_its_organization(
    server: Server, worker_env: Engine, keys: dict[str, credentials.NewKey]
) -> None:
    api.suppress("bob@example.org", organization=OTHER, reason="their customer asked",
                 actor="seed", engine=worker_env)  # fmt: skip
    api.suppress("gone@example.org", state="blocked", scope="global", reason="hard bounce",
                 actor="seed", engine=worker_env)  # fmt: skip
    owner, sender = keys["owner"], keys["sender"]
    # acme's owner suppresses for acme; acme's sender's check sees it with its reason.
    made = _call(server, owner, "POST", "/v1/suppress",
                 json={"target": "Jane@Example.org", "reason": "asked by phone"})  # fmt: skip
    assert made.status_code == 200 and made.json()["changed"] is True
    seen = _call(server, sender, "GET", "/v1/check", params={"address": "jane@example.org"})
    assert seen.json() | {} == {
        "address": "jane@example.org", "channel": "email", "organization": OWN, "list": None,
        "may_send": False, "state": "blacklisted", "reason": "manual", "blocked_until": None,
        "scope": "organization/acme",
    }  # fmt: skip
    # globex's entry is not acme's business: acme may send, and acme's card does not show it.
    bob = _call(server, sender, "GET", "/v1/check", params={"address": "bob@example.org"})
    assert bob.json()["may_send"] is True
    card = _call(server, owner, "GET", "/v1/contacts/bob@example.org").json()
    assert card["entries"] == [] and card["transitions"] == []
    # ... and acme's owner cannot lift it: acting for acme there is no such entry.
    lift = _call(server, owner, "POST", "/v1/lift",
                 json={"target": "bob@example.org", "reason": "mine now"})  # fmt: skip
    assert lift.status_code == 404
    assert (
        api.check("bob@example.org", organization=OTHER, engine=worker_env).state == "blacklisted"
    )
    # A global block stops every organization's send, and shows on acme's card read-only.
    gone = _call(server, sender, "GET", "/v1/check", params={"address": "gone@example.org"})
    assert (gone.json()["state"], gone.json()["scope"]) == ("blocked", "global")
    # support's card without an organization shows every organization's entries
    full = _call(server, keys["support"], "GET", "/v1/contacts/bob@example.org").json()
    assert [(e["organization"], e["state"]) for e in full["entries"]] == [(OTHER, "blacklisted")]
    # batch check: input order, invalid addresses flagged, counts
    batch = _call(server, sender, "POST", "/v1/check",
                  json={"addresses": ["jane@example.org", "not an address", "ok@example.org",
                                      "gone@example.org"]}).json()  # fmt: skip
    assert [(r["address"], r["state"]) for r in batch["results"]] == [
        ("jane@example.org", "blacklisted"), ("not an address", "invalid"),
        ("ok@example.org", "active"), ("gone@example.org", "blocked"),
    ]  # fmt: skip
    assert (batch["count"], batch["may_send"], batch["stopped"]) == (4, 1, 3)
    too_many = _call(server, sender, "POST", "/v1/check", json={"addresses": ["a@b.org"] * 10_001})
    assert too_many.status_code == 422


def test_export_and_import_check_stream_csv(
    server: Server, worker_env: Engine, keys: dict[str, credentials.NewKey]
) -> None:
    for n in range(3):
        api.suppress(f"u{n}@example.org", organization=OWN, reason="seed", actor="seed",
                     engine=worker_env)  # fmt: skip
    api.suppress("theirs@example.org", organization=OTHER, reason="seed", actor="seed",
                 engine=worker_env)  # fmt: skip
    owner = keys["owner"]
    full = _call(server, owner, "GET", "/v1/export")
    assert full.headers["content-type"].startswith("text/csv")
    lines = full.text.splitlines()
    assert lines[0].startswith("address,channel,scope,organization")
    assert sorted(line.split(",")[0] for line in lines[1:]) == [
        "u0@example.org",
        "u1@example.org",
        "u2@example.org",
    ]
    emails = _call(server, keys["support"], "GET", "/v1/export", params={"format": "email"})
    assert sorted(emails.text.splitlines()) == sorted(
        ["address", "u0@example.org", "u1@example.org", "u2@example.org", "theirs@example.org"]
    )
    report = _call(server, keys["sender"], "POST", "/v1/import-check",
                   content=b"name,email\nA,u1@example.org\nB,new@example.org\nC,broken\n")  # fmt: skip
    assert report.status_code == 200, report.text
    assert report.headers["x-import-check"] == "send 1, skip 1, bad 1"
    rows = report.text.splitlines()
    assert rows[1].startswith("2,u1@example.org,skip,blacklisted,manual,organization/acme")
    assert rows[2].startswith("3,new@example.org,send")
    no_column = _call(server, keys["sender"], "POST", "/v1/import-check", content=b"name\nA\n")
    assert no_column.status_code == 422
    assert "no column 'email'" in no_column.json()["error"]


def test_bad_input_is_one_line_error_and_phones_need_no_channel(
    server: Server, worker_env: Engine, keys: dict[str, credentials.NewKey]
) -> None:
    # docs/api.md: every error is {"error": "one line"}; FastAPI's own validation answered
    # {"detail": [...]} echoing the input (all 10,001 addresses of a too-big batch).
    sender, support = keys["sender"], keys["support"]
    cases = [
        (sender, "POST", "/v1/check", {"json": {"addresses": ["a@b.org"] * 10_001}}, 422),
        (
            sender,
            "POST",
            "/v1/check",
            {"content": b"{bad json", "headers": {"Content-Type": "application/json"}},
            422,
        ),
        (sender, "GET", "/v1/check", {}, 422),
        (support, "GET", "/v1/audit", {"params": {"limit": "abc"}}, 422),
        (support, "GET", "/v1/export", {"params": {"format": "xml"}}, 422),
        (support, "POST", "/v1/forget", {"json": {"address": "x@example.org"}}, 422),
        (support, "GET", "/v1/no-such-route", {}, 404),
        # A blank organization read as none: support's check of the global entries only.
        (support, "GET", "/v1/check", {"params": {"address": "a@b.org", "organization": ""}}, 422),
        (
            support,
            "POST",
            "/v1/check",
            {"json": {"addresses": ["x@y.org"], "organization": " "}},
            422,
        ),
        # A list without its organization was ignored (support): may_send for an unsubscribe.
        (support, "GET", "/v1/check", {"params": {"address": "a@b.org", "list": "news"}}, 422),
        (support, "POST", "/v1/check", {"json": {"addresses": ["x@y.org"], "list": "news"}}, 422),
        # A blank list read as none: the organization's entries only, so an address
        # unsubscribed from the list was may_send (twice: the route, then the fast path).
        (sender, "GET", "/v1/check", {"params": {"address": "a@b.org", "list": ""}}, 422),
        (sender, "GET", "/v1/check", {"params": {"address": "a@b.org", "list": ""}}, 422),
        (sender, "POST", "/v1/check", {"json": {"addresses": ["x@y.org"], "list": " "}}, 422),
        (support, "GET", "/v1/contacts/a@b.org", {"params": {"organization": "acme", "list": ""}},
         422),
        (support, "POST", "/v1/suppress", {"json": {"target": "n@example.org", "scope": "list",
         "organization": "acme", "list": "", "reason": "r"}}, 422),
        (sender, "POST", "/v1/import-check", {"params": {"list": ""},
         "content": b"email\nx@y.org\n"}, 422),
        # Over RFC 5321's 64-octet local part: flanker took it, and it was stored as an entry.
        (sender, "GET", "/v1/check", {"params": {"address": "x" * 65 + "@example.org"}}, 422),
        # A NUL character PostgreSQL cannot store: was a 500.
        (support, "GET", "/v1/audit", {"params": {"organization": "a\x00b"}}, 422),
        (
            support,
            "POST",
            "/v1/suppress",
            {"json": {"target": "n@example.org", "scope": "global", "reason": "a\x00b"}},
            422,
        ),
        # A header that is not UTF-8 was a 500 (the message could not be encoded).
        (sender, "POST", "/v1/import-check", {"content": b"na\xffme\nx\n"}, 422),
    ]
    for key, method, url, kw, status in cases:
        answer = _call(server, key, method, url, **kw)
        assert answer.status_code == status, (url, answer.text)
        error = answer.json()["error"]
        assert list(answer.json()) == ["error"] and "\n" not in error, answer.text
        assert len(error) < 300 and "a@b.org" not in error, error
    blank = _call(server, sender, "GET", "/v1/check", params={"address": "a@b.org", "list": ""})
    assert blank.json() == {"error": "list is empty: name the list, or leave it out"}
    too_many = _call(server, sender, "POST", "/v1/check", json={"addresses": ["a@b.org"] * 10_001})
    assert "addresses: List should have at most 10000 items" in too_many.json()["error"]
    # The one rule (domain.targets): a phone number is on the sms channel without channel=sms.
    api.suppress("+4915112345678", state="blocked", scope="global",
                 reason="seed", actor="seed", engine=worker_env)  # fmt: skip
    for _ in range(2):  # the framework route, then the fast path with the key now cached
        answer = _call(server, sender, "GET", "/v1/check", params={"address": "+4915112345678"})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["channel"], answer.json()["state"]) == ("sms", "blocked")
    card = _call(server, support, "GET", "/v1/contacts/+4915112345678")
    assert card.status_code == 200 and card.json()["channel"] == "sms", card.text
