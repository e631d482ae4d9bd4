"""Operator workflows through the real `bounce-worker` command, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bounce_worker.store.models import TransitionRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import run_cli, set_env

ACT = ("--reason", "ticket 4711", "--actor", "alice")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's database (migrated, empty), on both databases."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        request.getfixturevalue("pg_engine")  # truncated for this test
        url = request.getfixturevalue("pg_url")
    set_env(monkeypatch, database_url=url, secret_key="operator-cli-test-secret-32-bytes-long")
    return url


def ok(*args: str) -> str:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def refused(*args: str) -> str:
    done = run_cli(*args)
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bounce-worker: error: "), done.stderr
    return lines[0]


def state(address: str, *args: str) -> str:
    return json.loads(ok("status", address, "--json", *args))["state"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_roles_decide_who_may_lift_what(db: str) -> None:
    org = ("--scope", "organization", "--organization", "acme")
    ok("suppress", "list@example.org", "--state", "blacklisted", *org, *ACT, "--role", "owner")
    ok("suppress", "angry@example.org", "--state", "blocked", *org, *ACT)
    ok("suppress", "gone@example.org", "--state", "blocked", "--scope", "global", *ACT)

    # A refused lift says why, in one line, and changes nothing.
    line = refused("lift", "angry@example.org", *org, *ACT, "--role", "owner")
    assert "only support may lift a blocked entry" in line
    assert state("angry@example.org", "--organization", "acme") == "blocked"
    assert "only support may lift a global entry" in refused("lift", "gone@example.org",
        "--scope", "global", *ACT)  # fmt: skip
    assert "only support may add" in refused(
        "suppress", "x@example.org", "--state", "blocked", *org, *ACT, "--role", "owner"
    )
    assert "no organization entry" in refused("lift", "nobody@example.org", *org, *ACT)

    assert "blacklisted -> active" in ok("lift", "list@example.org", *org, *ACT, "--role", "owner")
    ok("lift", "angry@example.org", *org, "--reason", "customer confirmed", "--actor", "bob",
       "--role", "support")  # fmt: skip
    ok("lift", "gone@example.org", "--scope", "global", *ACT, "--role", "support")
    for address in ("list@example.org", "angry@example.org", "gone@example.org"):
        assert state(address, "--organization", "acme") == "active"
    assert "nothing to lift" in refused("lift", "gone@example.org", "--scope", "global",
        *ACT, "--role", "support")  # fmt: skip

    history = json.loads(ok("status", "angry@example.org", "--json", "--organization", "acme"))
    steps = [
        (t["from"], t["to"], t["reason"], t["actor"], t["note"]) for t in history["transitions"]
    ]
    assert steps == [
        ("active", "blocked", "manual", "alice", "ticket 4711"),
        ("blocked", "active", "lifted", "bob", "customer confirmed"),
    ]  # fmt: skip


def test_scopes_domains_and_phones(db: str) -> None:
    ok("suppress", "news@example.org", "--scope", "list", "--organization", "acme",
       "--list", "weekly", *ACT)  # fmt: skip
    assert state("news@example.org", "--organization", "acme", "--list", "weekly") == "blacklisted"
    assert state("news@example.org", "--organization", "acme", "--list", "daily") == "active"
    assert state("news@example.org", "--organization", "acme") == "active"

    ok("suppress", "@Spam-Trap.example", "--scope", "organization", "--organization", "acme",
       *ACT)  # fmt: skip
    assert state("anyone@spam-trap.example", "--organization", "acme") == "blacklisted"
    assert state("anyone@spam-trap.example", "--organization", "other") == "active"
    ok("suppress", "bad-domain.example", "--state", "blocked", "--scope", "global", *ACT)
    assert state("x@BAD-domain.example") == "blocked"

    out = ok("suppress", "+49 151 1234 5678", "--scope", "global", *ACT)
    assert "sms +4915112345678 global" in out
    assert state("+4915112345678", "--channel", "sms") == "blacklisted"
    assert "invalid phone" in refused("suppress", "+12", "--scope", "global", *ACT)
    assert "needs --organization" in refused("suppress", "a@b.org", *ACT)
    # A manual entry never weakens a stronger state.
    assert "already blocked, unchanged" in ok(
        "suppress", "bad-domain.example", "--scope", "global", *ACT
    )


def test_delete_hides_but_still_enforces_and_restore_shows(db: str, tmp_path: Path) -> None:
    org = ("--scope", "organization", "--organization", "acme")
    ok("suppress", "left@example.org", *org, *ACT)
    ok("suppress", "stays@example.org", *org, *ACT)
    ok("delete", "left@example.org", *org, "--reason", "contact deleted", "--actor", "owner1")
    assert "already deleted" in ok("delete", "left@example.org", *org, *ACT)

    out = tmp_path / "export.csv"
    ok("export", "--organization", "acme", "-o", str(out))
    assert [r["address"] for r in read_csv(out)] == ["stays@example.org"]

    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email\nleft@example.org\nnew@example.org\n")
    report = tmp_path / "report.csv"
    ok("check-import", str(contacts), "--organization", "acme", "-o", str(report))
    assert [(r["address"], r["result"]) for r in read_csv(report)] == [
        ("left@example.org", "skip"),  # deleted, still caught on re-import
        ("new@example.org", "send"),
    ]

    ok("restore", "left@example.org", *org, *ACT)
    ok("export", "--organization", "acme", "--email-only", "-o", str(out))
    assert sorted(r["address"] for r in read_csv(out)) == ["left@example.org", "stays@example.org"]
    history = json.loads(ok("status", "left@example.org", "--json", "--organization", "acme"))
    assert [t["reason"] for t in history["transitions"]] == ["manual", "deleted", "restored"]


def test_export_columns_states_and_last_diagnostic(db: str, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"event_id": "e1", "type": "bounce", "recipient": "gone@example.org",
                    "status": "5.1.1", "diagnostic": "550 5.1.1 user unknown",
                    "occurred_at": "2026-11-20T10:00:00Z"}) + "\n"
        + json.dumps({"event_id": "e2", "type": "bounce", "recipient": "full@example.org",
                      "status": "5.2.2", "diagnostic": "552 mailbox full",
                      "occurred_at": "2026-11-21T10:00:00Z"}) + "\n"
    )  # fmt: skip
    ok("process", str(feed))
    ok("suppress", "+4915112345678", "--scope", "global", *ACT)
    out = tmp_path / "all.csv"
    assert "exported 3 entries" in ok("export", "-o", str(out))
    rows = {r["address"]: r for r in read_csv(out)}
    gone = rows["gone@example.org"]
    assert (gone["state"], gone["reason"], gone["since"], gone["last_diagnostic"]) == (
        "blocked", "hard_bounce", "2026-11-20T10:00:00Z", "550 5.1.1 user unknown",
    )  # fmt: skip
    assert rows["full@example.org"]["blocked_until"] == "2026-11-22T10:00:00Z"
    ok("export", "--state", "blocked", "--channel", "email", "-o", str(out))
    assert [r["address"] for r in read_csv(out)] == ["gone@example.org"]
    ok("export", "--email-only", "-o", str(out))
    # Rows come in entry-id order; entries one writer batch creates get their ids in key
    # order (store/writer*.py), so within the batch the order is not the feed's.
    header, *addresses = out.read_text().splitlines()
    assert (header, sorted(addresses)) == ("address", ["full@example.org", "gone@example.org"])


def test_check_import_reports_bad_rows_and_never_crashes(db: str, tmp_path: Path) -> None:
    ok("suppress", "blocked@example.org", "--state", "blocked", "--scope", "global", *ACT)
    ok("suppress", "@unwanted.example", "--scope", "organization", "--organization", "acme", *ACT)
    contacts = tmp_path / "contacts.csv"
    contacts.write_bytes(
        b"Name,E-Mail,City\r\n"
        b"Ann,Blocked@Example.org,Berlin\r\n"
        b"Bob,not-an-address,Paris\r\n"
        b"Cat\r\n"  # no email column in this row
        b"\r\n"  # blank: not a contact
        b"Dan,m\xfcller@example.org,Wien\r\n"  # Latin-1, not UTF-8
        b"Eve,eve@unwanted.example,Rome\r\n"
        b'Fay,"' + b"x" * 200_000 + b'",Oslo\r\n'  # a field beyond the csv module's limit
        b"Gus,gus@example.org,Oslo\r\n"
    )
    report = tmp_path / "report.csv"
    out = ok("check-import", str(contacts), "--organization", "acme", "--column", "e-mail",
             "-o", str(report))  # fmt: skip
    rows = read_csv(report)
    results = {r["line"]: (r["result"], r["state"], r["matched"], r["detail"]) for r in rows}
    assert results["2"] == ("skip", "blocked", "address", "")
    assert results["3"][0] == "bad" and "invalid email address" in results["3"][3]
    assert results["4"] == ("bad", "", "", "missing column 'e-mail'")
    assert results["6"][0] == "bad" and "not UTF-8" in results["6"][3]
    assert results["7"] == ("skip", "blacklisted", "domain unwanted.example", "")
    assert any(r["result"] == "bad" and "unreadable CSV row" in r["detail"] for r in rows)
    assert rows[-1]["address"] == "gus@example.org" and rows[-1]["result"] == "send"
    assert "send 1, skip 2 (blacklisted 1, blocked 1), bad 4" in out

    assert "no column 'email'" in refused("check-import", str(contacts), "--organization",
        "acme", "-o", str(report))  # fmt: skip
    assert "no such file" in refused("check-import", str(tmp_path / "missing.csv"),
        "--organization", "acme", "-o", str(report))  # fmt: skip


def test_forget_erases_personal_data_and_keeps_the_address_caught(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"event_id": "d1", "type": "delivered", "recipient": "Jane@Example.org",
                    "organization": "acme", "occurred_at": "2026-11-19T10:00:00Z"}) + "\n"
        + json.dumps({"event_id": "b1", "type": "bounce", "recipient": "jane@example.org",
                      "status": "5.1.1", "occurred_at": "2026-11-20T10:00:00Z",
                      "diagnostic": "550 5.1.1 <jane@example.org>: user unknown"}) + "\n"
        + '{"event_id": "broken", "recipient": "jane@example.org"\n'
    )  # fmt: skip
    ok("process", str(feed))
    ok("suppress", "jane@example.org", "--scope", "organization", "--organization", "acme",
       "--reason", "jane@example.org asked by mail", "--actor", "alice")  # fmt: skip

    monkeypatch.delenv("BOUNCE_WORKER_SECRET_KEY")
    assert "BOUNCE_WORKER_SECRET_KEY is not set" in refused("forget", "jane@example.org",
        "--actor", "dpo")  # fmt: skip
    set_env(monkeypatch, secret_key="operator-cli-test-secret-32-bytes-long")

    out = ok("forget", "JANE@example.org", "--actor", "dpo")
    assert "entries kept under a keyed hash 2" in out and "delivery facts deleted 1" in out
    assert "dead letters erased 1" in out

    from bounce_worker.store.db import get_engine
    from bounce_worker.store.models import DeadLetterRow, DeliveryRow, EntryRow, ProcessedEventRow

    with UnitOfWork(get_engine(db)) as uow:
        s = uow.session
        texts = [str(v) for v in s.scalars(select(ProcessedEventRow.payload))]
        texts += [str(v) for v in s.scalars(select(TransitionRow.diagnostic))]
        texts += [str(v) for v in s.scalars(select(TransitionRow.note))]
        texts += [v.decode() for v in s.scalars(select(DeadLetterRow.payload))]
        texts += list(s.scalars(select(EntryRow.address))) + list(
            s.scalars(select(EntryRow.display_address))
        )
        assert not s.scalars(select(DeliveryRow)).all()
        assert all(a.startswith("hmac:") for a in s.scalars(select(EntryRow.address)))
    assert not [t for t in texts if "jane@example.org" in t.lower()]

    # Still suppressed: a check, and a re-import, are caught.
    assert state("jane@example.org", "--organization", "acme") == "blocked"
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email\nJane@Example.org\n")
    report = tmp_path / "report.csv"
    ok("check-import", str(contacts), "--organization", "acme", "-o", str(report))
    [row] = read_csv(report)
    assert (row["result"], row["state"], row["matched"]) == ("skip", "blocked", "forgotten address")
    # Support can still lift the hashed entry by the address; a second forget is harmless.
    ok("lift", "jane@example.org", "--scope", "organization", "--organization", "acme", *ACT)
    ok("forget", "jane@example.org", "--actor", "dpo")
    assert "not a domain" in refused("forget", "example.org", "--actor", "dpo")
