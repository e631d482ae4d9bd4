"""Robinson lists (issue 15 item 5, issue 16's card): imported with the real CLI, consulted
by every check (single, batch, the full check, the import check, the HTTP API and the
console card) with their own reason and scope; replacing a list is atomic."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from bounce_worker import api, credentials, robinson
from bounce_worker.clock import utcnow
from bounce_worker.domain.targets import parse_target
from bounce_worker.http.console import readmodel
from bounce_worker.store.models import AuditRow, RobinsonEntryRow
from tests.conftest import run_cli
from tests.integration.http_server import Server

WHO = {"reason": "ticket 1", "actor": "alice"}


@pytest.fixture(autouse=True)
def no_lists_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """The PostgreSQL database is the run's: the lists made here bind no other test."""
    name = next(n for n in ("any_engine", "worker_env") if n in request.fixturenames)
    engine: Engine = request.getfixturevalue(name)
    yield
    for found in robinson.listing(engine):
        robinson.remove(engine, found.name, found.organization)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_lists_rule_every_check_with_their_own_reason(any_engine: Engine, tmp_path: Path) -> None:
    hashed = hashlib.sha256(b"hashed@example.org").hexdigest()
    source = write(tmp_path / "dnc.csv", "email,name\nAnna@Example.ORG,Anna\n"
                   f"+4915112345678,\n{hashed},\nsha256:{hashed.upper()},dup\n\nnot an address,x\n")  # fmt: skip
    done = robinson.import_list(any_engine, source, name="dnc", organization=None, now=utcnow())
    assert (done.entries, done.lines, done.bad, done.replaced) == (3, 5, 1, None)
    assert done.first_errors[0].startswith("line 7: invalid email address")
    write(tmp_path / "acme.txt", "acme-only@example.org\n")
    robinson.import_list(any_engine, tmp_path / "acme.txt", name="acme-dnc", organization="acme",
                         now=utcnow())  # fmt: skip
    # Only digests are stored.
    with any_engine.connect() as conn:
        stored = set(conn.scalars(select(RobinsonEntryRow.digest)))
    assert hashlib.sha256(b"anna@example.org").digest() in stored

    single = api.check_fast("anna@example.org", organization="acme", engine=any_engine)
    assert (single[0].state, single[0].reason, single[1].scope, single[1].list) == (
        "blacklisted", "robinson", "robinson", "dnc",
    )  # fmt: skip
    assert api.check("+4915112345678", channel="sms", engine=any_engine).reason == "robinson"
    assert api.check("HASHED@example.org", organization="x", engine=any_engine).state == (
        "blacklisted"
    )
    # An organization's list binds that organization only.
    assert api.check("acme-only@example.org", organization="acme", engine=any_engine).reason == (
        "robinson"
    )
    assert api.check("acme-only@example.org", organization="globex", engine=any_engine).may_send
    # A block outranks it (the strongest state rules); the card shows both.
    api.suppress("anna@example.org", state="blocked", scope="global", engine=any_engine, **WHO)
    card = api.check("anna@example.org", organization="acme", engine=any_engine)
    assert (card.state, card.reason) == ("blocked", "manual")
    assert [(e["scope"], e["list"]) for e in card.entries] == [
        ("global", None), ("robinson", "dnc"),
    ]  # fmt: skip
    addresses = ["anna@example.org", "acme-only@example.org", "hashed@example.org",
                 "free@example.org"]  # fmt: skip
    many = api.check_many(addresses, organization="acme", engine=any_engine)
    assert [(v.state, v.reason) for v in many] == [
        ("blocked", "manual"), ("blacklisted", "robinson"), ("blacklisted", "robinson"),
        ("active", None),
    ]  # fmt: skip
    assert [api.check(a, organization="acme", engine=any_engine).state for a in addresses] == [
        v.state for v in many
    ]
    # The console's card lists it, for support and for the list's organization only.
    target = parse_target("acme-only@example.org")
    seen = readmodel.card(any_engine, target, organization="acme", list_id=None,
                          visible_to=None, secret=None)  # fmt: skip
    assert [(h.scope, h.organization, h.list) for h in seen.lists] == [
        ("robinson", "acme", "acme-dnc")
    ]
    assert seen.state == "blacklisted" and seen.reason == "robinson"
    hidden = readmodel.card(any_engine, target, organization="globex", list_id=None,
                            visible_to="globex", secret=None)  # fmt: skip
    assert hidden.lists == [] and hidden.may_send

    # Replacing: the new version in place of the old, at once; a file with no good line
    # changes nothing.
    write(tmp_path / "v2.csv", "other@example.org\n")
    again = robinson.import_list(any_engine, tmp_path / "v2.csv", name="dnc", organization=None,
                                 now=utcnow())  # fmt: skip
    assert (again.entries, again.replaced) == (1, 3)
    assert api.check("hashed@example.org", engine=any_engine).may_send
    assert api.check("other@example.org", engine=any_engine).reason == "robinson"
    with pytest.raises(robinson.BadList, match="no address, phone number or SHA-256"):
        robinson.import_list(any_engine, write(tmp_path / "bad.csv", "junk\n"), name="dnc",
                             organization=None, now=utcnow())  # fmt: skip
    assert api.check("other@example.org", engine=any_engine).reason == "robinson"
    assert [(x.name, x.organization, x.entries) for x in robinson.listing(any_engine)] == [
        ("acme-dnc", "acme", 1), ("dnc", None, 1),
    ]  # fmt: skip


def test_cli_import_and_the_http_api(worker_env: Engine, tmp_path: Path) -> None:
    source = write(tmp_path / "dnc.txt", "# do not contact\nnobody@example.org\n+4915112345678\n"
                   "broken@\n")  # fmt: skip
    done = run_cli("robinson", "import", str(source), "--name", "national")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "robinson list 'national' for every organization: 2 entries from 3 lines (new list), "
        "1 bad lines",
        "  skipped line 4: invalid email address: 'broken@'",
    ]
    missing = run_cli("robinson", "import", str(tmp_path / "nope.csv"), "--name", "x")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "no such file" in missing.stderr
    empty = run_cli("robinson", "import", str(write(tmp_path / "e.csv", "x\n")), "--name", "x")
    assert empty.returncode == 1 and empty.stderr.count("\n") == 1, empty.stderr
    listed = json.loads(run_cli("robinson", "list", "--json").stdout)
    assert ("national", None, 2) in [(x["name"], x["organization"], x["entries"]) for x in listed]
    with worker_env.connect() as conn:
        actions = conn.execute(select(AuditRow.action, AuditRow.target)).all()
    assert ("robinson import", "robinson list national") in actions

    sender = credentials.create(worker_env, role="sender", organization="acme", now=utcnow(),
                                name="s").key  # fmt: skip
    support = credentials.create(worker_env, role="support", organization=None, now=utcnow(),
                                 name="t").key  # fmt: skip
    server = Server().start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for _ in range(2):  # the route, then the fast path for the verified key
                one = http.get("/v1/check", params={"address": "Nobody@example.org"},
                               headers={"Authorization": f"Bearer {sender}"})  # fmt: skip
                assert one.status_code == 200, one.text
                assert (one.json()["reason"], one.json()["scope"]) == (
                    "robinson",
                    "robinson/national",
                )
            many = http.post("/v1/check", headers={"Authorization": f"Bearer {sender}"},
                             json={"addresses": ["nobody@example.org", "ok@example.org"]})  # fmt: skip
            assert [r["reason"] for r in many.json()["results"]] == ["robinson", None]
            card = http.get("/v1/contacts/nobody@example.org",
                            headers={"Authorization": f"Bearer {support}"})  # fmt: skip
            assert card.status_code == 200, card.text
            assert [(e["scope"], e["list"], e["reason"]) for e in card.json()["entries"]] == [
                ("robinson", "national", "robinson")
            ]
    finally:
        server.stop()
    removed = run_cli("robinson", "remove", "national")
    assert removed.returncode == 0 and "2 entries" in removed.stdout
    assert api.check("nobody@example.org", engine=worker_env).may_send
