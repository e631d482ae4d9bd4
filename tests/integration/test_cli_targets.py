"""Issue 19: one rule for what an argument names (domain/targets.py), used by every command
that takes one. Each command runs with an email address, a phone number and a domain in a
user's spelling, on the embedded default: through `main()` in this process (a command line
costs seconds on the shared machine), and the domain's story as a real command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.domain.targets import kind_of, parse_target
from tests.integration.test_cli_rough_edges import bw

ACT = ["--organization", "acme", "--reason", "ticket 42", "--actor", "sam", "--role", "support"]

# (as a user types it, channel, as every command prints it)
TARGETS = [
    ("Jane.Doe@Example.COM", "email", "Jane.Doe@example.com"),
    ("+49 151 2222 3333", "sms", "+4915122223333"),
    ("Example.ORG", "domain", "example.org"),
    ("@example.net", "domain", "example.net"),
]


@pytest.mark.parametrize(("typed", "channel", "shown"), TARGETS)
def test_the_rule(typed: str, channel: str, shown: str) -> None:
    assert kind_of(typed) == channel
    target = parse_target(typed)
    assert (target.channel, target.display) == (channel, shown)


@pytest.mark.parametrize(("typed", "channel", "shown"), TARGETS)
def test_every_entry_command_takes_every_kind(
    cli: Any, typed: str, channel: str, shown: str
) -> None:
    steps = [
        (["suppress", typed, *ACT], f"{channel} {shown} organization/acme: active -> blacklisted"),
        (["status", typed, "--organization", "acme"], f"{shown} ({channel}): blacklisted - manual"),
        (["delete", typed, *ACT], f"{channel} {shown} organization/acme: deleted"),
        (["restore", typed, *ACT], f"{channel} {shown} organization/acme: restored"),
        (["lift", typed, *ACT], f"{channel} {shown} organization/acme: blacklisted -> active"),
        (["status", typed, "--organization", "acme"], f"{shown} ({channel}): active"),
    ]
    for args, first_line in steps:
        code, out, err = cli(*args)
        assert code == 0, (args, err)
        assert out.splitlines()[0] == first_line, (args, out)


def test_status_of_a_domain_shows_the_domain_entry_and_what_it_does_to_an_address(
    tmp_path: Path,
) -> None:
    out = bw(tmp_path, "suppress", "example.org", "--scope", "global", "--reason", "spam traps",
             "--actor", "sam")  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = bw(tmp_path, "status", "example.org")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "example.org (domain): blacklisted - manual"
    assert "spam traps" in out.stdout  # the history, with the written reason
    address = bw(tmp_path, "status", "anyone@EXAMPLE.org")
    assert address.stdout.splitlines()[0] == "anyone@example.org (email): blacklisted - manual"
    other = bw(tmp_path, "status", "example.com")
    assert other.stdout.splitlines()[0] == "example.com (domain): active"


def test_forget_takes_an_address_or_a_phone_and_refuses_a_domain(cli: Any) -> None:
    for typed, channel, shown in TARGETS[:2]:
        assert cli("suppress", typed, *ACT)[0] == 0
        code, out, err = cli("forget", typed, "--actor", "sam")
        assert code == 0, err
        assert out.startswith(f"forgot {shown} ({channel}): ")
        assert "entries kept under a keyed hash 1" in out
    code, out, err = cli("forget", "example.org", "--actor", "sam")
    assert code == 1
    assert err.strip() == (
        "bounce-worker: error: refused: forget takes an email address or a phone number, "
        "not a domain"
    )


VERP_ONLY = "verp encode takes an email address (VERP is for mail),"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("+4915112345678", f"{VERP_ONLY} not a phone number: +4915112345678"),
        ("example.org", f"{VERP_ONLY} not a domain: example.org"),
    ],
)
def test_verp_encode_names_what_it_was_given(cli: Any, typed: str, message: str) -> None:
    code, _, err = cli("verp", "encode", typed, "--organization", "acme")
    assert code == 1
    assert err.strip() == f"bounce-worker: error: {message}"


@pytest.mark.parametrize("command", ["status", "suppress", "lift", "delete", "restore", "forget"])
def test_an_argument_that_is_none_of_them_says_what_is_expected(cli: Any, command: str) -> None:
    extra = {"status": [], "forget": ["--actor", "sam"]}.get(command, ACT)
    code, _, err = cli(command, "not an address", *extra)
    assert code == 1
    assert err.strip() == (
        "bounce-worker: error: not an email address, domain or phone number: 'not an address' "
        "(give user@example.org, example.org or +4915112345678)"
    )


def test_a_forced_channel_is_checked_as_that_channel() -> None:
    with pytest.raises(InvalidAddress, match="invalid email address"):
        parse_target("example.org", "email")
    assert parse_target("example.org", "domain").channel == "domain"


def test_check_import_reads_the_column_by_the_same_rule(cli: Any, tmp_path: Path) -> None:
    """A column of phone numbers is checked on the sms channel without --channel sms."""
    assert cli("suppress", "+49 151 2222 3333", *ACT)[0] == 0
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("mobile\n12345\n+49 151 2222 3333\n+49 151 4444 5555\n")
    report = tmp_path / "report.csv"
    code, out, err = cli("check-import", str(contacts), "--organization", "acme", "--column",
                         "mobile", "-o", str(report))  # fmt: skip
    assert code == 0, err
    assert out.strip().startswith("checked 3 rows: send 1, skip 1 (blacklisted 1), bad 1")
    assert "3,+49 151 2222 3333,skip,blacklisted,manual,organization/acme" in report.read_text()
