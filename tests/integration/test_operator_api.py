"""The Python API a sending platform calls: check_many, suppress, lift, history, forget."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bounce_worker import api, importcheck, lookup
from tests.conftest import REPO, set_env

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "operator-api-test-secret-32-bytes-long"  # config.MIN_KEY_BYTES
WHO = {"reason": "ticket 1", "actor": "alice"}


def test_check_many_uses_the_same_rule_as_check(
    any_engine: Engine, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, secret_key=SECRET)
    api.suppress("a@example.org", organization="acme", engine=any_engine, now=NOW, **WHO)
    api.suppress("@blocked.example", state="blocked", scope="global", engine=any_engine, **WHO)
    api.suppress("l@example.org", scope="list", organization="acme", list="news",
                 engine=any_engine, **WHO)  # fmt: skip
    api.suppress("f@example.org", state="blocked", scope="global", engine=any_engine, **WHO)
    api.forget("F@example.org", actor="dpo", engine=any_engine)
    addresses = ["A@example.org", "x@Blocked.example", "l@example.org", "f@example.org",
                 "ok@example.org", "nope"]  # fmt: skip
    for org, lst in [("acme", "news"), ("acme", None), ("other", None), (None, None)]:
        many = api.check_many(addresses, organization=org, list=lst, engine=any_engine)
        one = [
            api.check(a, organization=org, list=lst, engine=any_engine).state
            for a in addresses[:-1]
        ]
        assert [v.state for v in many[:-1]] == one
        assert many[-1].state == "invalid" and not many[-1].may_send
    many = api.check_many(addresses, organization="acme", list="news", engine=any_engine)
    assert [v.may_send for v in many] == [False, False, False, False, True, False]
    assert many[1].reason == "manual"


def test_import_check_in_small_chunks_gives_the_one_chunk_report(
    any_engine: Engine,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Chunks are fetched in a thread ahead of the one being written, domains are kept
    # between chunks (and dropped when too many): none of it may change a row or its order.
    set_env(monkeypatch, secret_key=SECRET)
    api.suppress("@d1.example", state="blocked", scope="global", engine=any_engine, **WHO)
    api.suppress("@d2.example", organization="acme", engine=any_engine, **WHO)
    for i in range(0, 60, 7):
        api.suppress(f"u{i}@d{i % 4}.example", organization="acme", engine=any_engine, **WHO)
    api.suppress("gone@d3.example", state="blocked", scope="global", engine=any_engine, **WHO)
    api.forget("gone@d3.example", actor="dpo", engine=any_engine)
    contacts = tmp_path / "contacts.csv"
    rows = [f"U{i}@D{i % 4}.example" if i % 9 else "bad" for i in range(60)] + ["gone@d3.example"]
    contacts.write_text("email\n" + "\n".join(rows) + "\n")

    def report(chunk: int, max_domains: int) -> tuple[str, dict[str, int]]:
        monkeypatch.setattr(importcheck, "CHUNK", chunk)
        monkeypatch.setattr(lookup, "MAX_DOMAINS", max_domains)
        out = io.StringIO()
        counts = importcheck.check_file(
            any_engine, contacts, out, organization="acme", secret=SECRET
        )
        return out.getvalue(), dict(counts)

    whole = report(1000, 1000)
    assert report(4, 1000) == whole
    assert report(3, 1) == whole
    text, counts = whole
    got = [(r["address"], r["state"]) for r in csv.DictReader(io.StringIO(text))]
    checked = api.check_many(rows, organization="acme", engine=any_engine)
    states = ["" if v.state == "invalid" else v.state for v in checked]
    assert got == list(zip(rows, states, strict=True))
    assert counts["bad"] == 7 and counts["skip"] == 31
    assert (
        text.splitlines()[-1] == "62,gone@d3.example,skip,blocked,manual,global,forgotten address,"
    )


def test_lift_refusal_and_history(any_engine: Engine, env: dict[str, str]) -> None:
    api.suppress("c@example.org", state="blocked", organization="acme", engine=any_engine, **WHO)
    with pytest.raises(api.Refused, match="only support"):
        api.lift("c@example.org", organization="acme", engine=any_engine, **WHO)
    change = api.lift("c@example.org", organization="acme", role="support", engine=any_engine,
                      reason="confirmed opt-in by phone", actor="bob")  # fmt: skip
    assert (change.from_state, change.to_state, change.changed) == ("blocked", "active", True)
    steps = api.history("c@example.org", engine=any_engine)
    assert [(t["to"], t["actor"], t["note"]) for t in steps] == [
        ("blocked", "alice", "ticket 1"),
        ("active", "bob", "confirmed opt-in by phone"),
    ]
    assert api.history("c@example.org", organization="other", engine=any_engine) == []


def test_bench_smoke(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/check_import.py", "--rows", "300"],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "check-import: 300 rows against" in done.stdout and "rows/s" in done.stdout
    assert "bad 3" in done.stdout
