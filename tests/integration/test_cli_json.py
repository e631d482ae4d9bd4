"""Issue 19: every command that prints a table takes --json (one JSON document on stdout),
and its table, piped or redirected, is as wide as its rows: nothing cut at 80 columns, no
ellipsis. Run through `main()` (stdout captured, so not a terminal, as in a pipe)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli_rough_edges import SAMPLE

ORG = "an-organization-with-a-name-long-enough-to-push-a-table-past-eighty-columns"
HOLDER = "Sam Support, second-level support desk, night shift, building C, room 4.17"
REPLY = (
    "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual "
    "mailbox table (the whole reply of the receiving MTA, kept in full)"
)


@pytest.fixture
def filled(cli: Any, tmp_path: Path) -> Any:
    """The sample feed, a long-named organization's hard bounce, a recalculation and a key."""
    event = {"event_id": "long-1", "type": "bounce", "recipient": "gone@example.org",
             "organization": ORG, "status": "5.1.1", "smtp_code": 550, "diagnostic": REPLY,
             "occurred_at": "2026-11-22T10:00:00Z", "source": "postfix"}  # fmt: skip
    feed = tmp_path / "long.jsonl"
    feed.write_text(json.dumps(event) + "\n")
    for argv in (
        ["process", str(SAMPLE), str(feed)],
        ["suppress", "gone@example.org", "--organization", ORG, "--reason", "ticket 42",
         "--actor", "sam"],
        ["recalculate"],
        ["keys", "create", "--role", "support", "--name", HOLDER],
    ):  # fmt: skip
        code, _, err = cli(*argv)
        assert code == 0, (argv, err)
    return cli


def test_status(filled: Any) -> None:
    data = as_json(filled, "status", "gone@example.org", "--organization", ORG, "--json")
    assert data["state"] == "blocked" and data["may_send"] is False
    assert any(t["diagnostic"] == REPLY for t in data["transitions"])
    table = as_table(filled, "status", "gone@example.org", "--organization", ORG)
    assert any(REPLY in line and "2026-11-22T10:00:00Z" in line for line in table)


def test_stats(filled: Any) -> None:
    data = as_json(filled, "stats", "--json")
    mine = next(r for r in data["rows"] if r["organization"] == ORG)
    assert mine["blacklisted"] == 1
    table = as_table(filled, "stats")
    assert any(ORG in line for line in table)


def test_audit(filled: Any) -> None:
    data = as_json(filled, "audit", "--json")
    assert any(r["action"] == "keys create" and HOLDER in r["detail"] for r in data)
    table = as_table(filled, "audit")
    assert any(HOLDER in line for line in table)


def test_keys_list(filled: Any) -> None:
    data = as_json(filled, "keys", "list", "--json")
    assert [k["name"] for k in data] == [HOLDER]
    table = as_table(filled, "keys", "list")
    assert any(HOLDER in line and data[0]["key_id"] in line for line in table)


def test_dead_letters_list(filled: Any) -> None:
    data = as_json(filled, "dead-letters", "list", "--json")
    reasons = {r["reason"] for r in data}
    assert "invalid email address: 'not an address'" in reasons and len(data) == 2
    table = as_table(filled, "dead-letters", "list")  # piped: one tab-separated line each
    assert any("invalid email address: 'not an address'" in line for line in table)


def as_json(cli: Any, *argv: str) -> Any:
    code, out, err = cli(*argv)
    assert code == 0, err
    return json.loads(out)


def as_table(cli: Any, *argv: str) -> list[str]:
    code, out, err = cli(*argv)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) > 80  # wider than a terminal's default
    assert "…" not in out  # rich's mark for a cut cell
    return lines
