"""Issue 19's error-message audit: every command, given the typical bad input (a missing
file, a bad address, an unknown id, a bad option, a bad setting, a database that is not
there, a broker that is down), fails with exactly one line on stderr that names the problem
and what to do next, a nonzero exit status, and no traceback.

Most cases run through `main()` in this process (the `cli` fixture); the broker-down ones
run the real command line, since the Celery app reads its broker once per process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import PG_ADMIN, set_env
from tests.integration.test_cli_rough_edges import SAMPLE, bw

DOWN_PORT = "18799"  # in this helper's manual port range; nothing listens there
NO_DB_PORT = "18798"
ACT = ["--reason", "ticket 42", "--actor", "sam"]

CASES: list[tuple[str, list[str], dict[str, str], str]] = [
    # (what, argv, BOUNCE_WORKER_* settings, what stderr must say)
    ("missing file", ["process", "/nonexistent/feed.jsonl"], {},
     "no such file: /nonexistent/feed.jsonl (give a file, a directory of them, or -)"),
    ("missing file", ["publish", "/nonexistent/feed.jsonl"], {},
     "no such file: /nonexistent/feed.jsonl (give a file, a directory of them, or -)"),
    ("missing file", ["demo", "/nonexistent/feed.jsonl"], {},
     "no such file: /nonexistent/feed.jsonl (give a file, a directory of them, or -)"),
    ("missing file", ["check-import", "/nonexistent/c.csv", "--organization", "acme", "-o",
                      "{tmp}/report.csv"], {}, "no such file: /nonexistent/c.csv"),
    ("missing file", ["robinson", "import", "/nonexistent/r.csv", "--name", "national"], {},
     "no such file: /nonexistent/r.csv"),
    ("unwritable output", ["export", "-o", "/nonexistent/dir/out.csv"], {},
     "No such file or directory: /nonexistent/dir/out.csv (check the path and its rights)"),
    ("bad address", ["status", "not an address"], {},
     "not an email address, domain or phone number: 'not an address' "
     "(give user@example.org, example.org or +4915112345678)"),
    ("bad address", ["suppress", "jane@", *ACT], {},
     "invalid email address: 'jane@' (give user@example.org, example.org or +4915112345678)"),
    ("bad address", ["lift", "+12", "--organization", "acme", *ACT], {},
     "(give user@example.org, example.org or +4915112345678)"),
    ("bad address", ["delete", "a@b", "--organization", "acme", *ACT], {},
     "email domain has no dot: 'a@b' (give user@example.org"),
    ("bad address", ["restore", "@", "--organization", "acme", *ACT], {},
     "not an email address, domain or phone number"),
    ("bad address", ["forget", "x y", "--actor", "sam"], {"secret_key": "s" * 32},
     "not an email address, domain or phone number"),
    ("bad address", ["verp", "encode", "nobody", "--organization", "acme"], {},
     "not an email address, domain or phone number"),
    ("unknown id", ["dead-letters", "replay", "999"], {},
     "no dead letter with id 999 (see `bounce-worker dead-letters list --all`)"),
    ("unknown id", ["keys", "revoke", "0123456789ab"], {},
     "no API key with id '0123456789ab' (see `bounce-worker keys list`)"),
    ("unknown name", ["robinson", "remove", "national"], {},
     "no Robinson list 'national' (see `bounce-worker robinson list`)"),
    ("nothing yet", ["stats"], {}, "no figures yet: run `bounce-worker recalculate` first"),
    ("refused", ["lift", "jane@example.org", *ACT], {},
     "refused: --scope organization needs --organization"),
    ("bad option", ["unlock-expired", "--now", "tomorrow"], {},
     "not ISO 8601 nor an offset from now: 'tomorrow' (give e.g. 2026-11-22T03:00:00Z, or "
     "+2d, -12h, +30m) (see `bounce-worker unlock-expired --help`)"),
    ("bad option", ["status", "jane@example.org", "--list", "news"], {},
     "--list needs --organization (a list belongs to an organization)"),
    # A blank --list read as no list: the organization's entries only (a list unsubscribe
    # read active), a list entry made without its list.
    ("bad option", ["status", "jane@example.org", "--organization", "acme", "--list", ""], {},
     "argument --list: empty: name the list, or leave --list out"),
    ("bad option", ["suppress", "jane@example.org", "--scope", "list", "--organization", "acme",
                    "--list", " ", *ACT], {},
     "argument --list: empty: name the list, or leave --list out"),
    ("bad option", ["check-import", "{tmp}/c.csv", "--organization", "acme", "--list", "", "-o",
                    "{tmp}/r.csv"], {}, "argument --list: empty: name the list, or leave --list out"),
    ("bad option", ["status", "jane@example.org", "--channel", "fax"], {},
     "argument --channel: invalid choice: 'fax'"),
    ("bad option", ["dead-letters", "list", "--limit", "0"], {},
     "must be at least 1, got 0 (see `bounce-worker dead-letters list --help`)"),
    ("bad option", ["health", "--timeout", "0"], {}, "must be more than 0 and at most 60"),
    ("bad option", ["keys", "create", "--role", "owner"], {}, "an owner key needs --organization"),
    ("bad option", ["keys", "create", "--role", "producer", "--organization", " "], {},
     "argument --organization: empty: name the organization, or leave --organization out"),
    ("bad option", ["robinson", "import", "{tmp}/r.csv", "--name", "n", "--organization", ""],
     {}, "argument --organization: empty: name the organization, or leave --organization out"),
    ("bad option", ["check-import", "{tmp}/c.csv", "--organization", "", "-o", "{tmp}/r.csv"],
     {}, "argument --organization: empty: name the organization, or leave --organization out"),
    ("bad option", ["serve", "--port", "99999"], {}, "argument --port: not a TCP port (1-65535)"),
    ("bad option", ["lmtp", "--port", "http"], {}, "argument --port: not a TCP port (1-65535)"),
    ("no command", [], {}, "the following arguments are required: COMMAND (see `bounce-worker "
     "--help`)"),
    ("bad setting", ["status", "jane@example.org"], {"batch_size": "many"},
     "BOUNCE_WORKER_BATCH_SIZE must be a whole number, got 'many'"),
    ("bad setting", ["publish", str(SAMPLE)], {"broker_url": "redsi://127.0.0.1:6379/0"},
     "BOUNCE_WORKER_BROKER_URL has no broker transport 'redsi': give e.g. redis://"),
    ("bad setting", ["demo"], {"broker_url": "bogus"},
     "BOUNCE_WORKER_BROKER_URL has no broker transport 'bogus'"),
    ("missing setting", ["forget", "jane@example.org", "--actor", "sam"], {},
     "BOUNCE_WORKER_SECRET_KEY is not set"),
    # An HMAC key shorter than SHA-256's output (RFC 2104 section 3) was taken, even "k".
    ("bad setting", ["status", "jane@example.org"], {"secret_key": "k"},
     "BOUNCE_WORKER_SECRET_KEY is shorter than 32 bytes, too short for an HMAC-SHA256 key "
     "(RFC 2104): make one with python -c 'import secrets; print(secrets.token_urlsafe(32))'"),
    ("bad setting", ["verp", "encode", "jane@example.org", "--organization", "acme"],
     {"verp_domain": "bounces.example.net", "verp_key": "x" * 31},
     "BOUNCE_WORKER_VERP_KEY is shorter than 32 bytes"),
    ("missing setting", ["verp", "encode", "jane@example.org", "--organization", "acme"], {},
     "set BOUNCE_WORKER_VERP_DOMAIN and BOUNCE_WORKER_VERP_KEY first"),
    ("database missing", ["status", "jane@example.org"],
     {"database_url": PG_ADMIN.rsplit("/", 1)[0] + "/bw_no_such_database"},
     'database "bw_no_such_database" does not exist (check BOUNCE_WORKER_DATABASE_URL: the '
     "server is up, the database exists and `bounce-worker db upgrade` ran)"),
    ("database down", ["stats"],
     {"database_url": f"postgresql://postgres@127.0.0.1:{NO_DB_PORT}/bw"},
     "Connection refused (check BOUNCE_WORKER_DATABASE_URL"),
    ("database missing", ["db", "upgrade"],
     {"database_url": f"postgresql://postgres@127.0.0.1:{NO_DB_PORT}/bw"},
     "Connection refused (check BOUNCE_WORKER_DATABASE_URL"),
    ("database missing", ["audit"], {"database_url": "sqlite:////nonexistent/dir/bw.sqlite3"},
     "unable to open database file (check BOUNCE_WORKER_DATABASE_URL"),
    ("no driver", ["status", "jane@example.org"], {"database_url": "mysql://db.example/bw"},
     "a driver this configuration needs is not installed (BOUNCE_WORKER_DATABASE_URL takes "
     "postgresql:// or sqlite:///)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "argv", "settings", "says"),
    CASES,
    ids=[f"{c[0]}: {' '.join(c[1][:2]) or '(none)'}" for c in CASES],
)
def test_each_error_is_one_line_with_what_to_do(
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    what: str,
    argv: list[str],
    settings: dict[str, str],
    says: str,
) -> None:
    monkeypatch.delenv("BOUNCE_WORKER_SECRET_KEY", raising=False)
    set_env(monkeypatch, **settings)
    code, out, err = cli(*[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code != 0, (what, out)
    one_line(err, says)


@pytest.fixture
def unmigrated_database() -> Iterator[str]:
    name = "bw_unmigrated_docs_test"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_server_database_never_migrated_names_the_command(
    cli: Any, monkeypatch: pytest.MonkeyPatch, unmigrated_database: str
) -> None:
    set_env(monkeypatch, database_url=unmigrated_database)
    for argv in (["status", "jane@example.org"], ["stats"], ["dead-letters", "list"]):
        code, _, err = cli(*argv)
        assert code == 1
        one_line(err, "database schema is not current: run `bounce-worker db upgrade`")


BROKER_DOWN = {"broker_url": f"redis://127.0.0.1:{DOWN_PORT}/0"}


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["publish", str(SAMPLE)], 1,
         "broker unavailable: Error 111 connecting to 127.0.0.1:18799. Connection refused. "
         "(is the broker running? check BOUNCE_WORKER_BROKER_URL)"),
        (["demo"], 1, "(is the broker running? check BOUNCE_WORKER_BROKER_URL)"),
        (["health", "--skip-worker", "--timeout", "2"], 1, "unhealthy: broker unreachable"),
        (["pipe"], 75, "broker unavailable, mail kept for retry"),
    ],
)  # fmt: skip
def test_broker_down_is_one_line(tmp_path: Path, argv: list[str], code: int, says: str) -> None:
    if argv[0] == "health":  # the database check comes first: make it pass
        assert bw(tmp_path, "db", "upgrade").returncode == 0
    out = bw(tmp_path, *argv, input="From: a@example.org\n\nhello\n", **BROKER_DOWN)
    assert out.returncode == code, out.stderr
    one_line(out.stderr, says)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something already listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("argv", [["serve", "--port"], ["lmtp", "--port"], ["metrics", "--port"]])
def test_a_port_in_use_is_one_line_before_the_server_starts(
    cli: Any, taken_port: int, argv: list[str]
) -> None:
    code, _, err = cli(*argv, str(taken_port))
    assert code == 1
    one_line(err, f"cannot listen on 127.0.0.1:{taken_port}: Address already in use (stop what "
                  "listens there or pass another --port")  # fmt: skip


def one_line(err: str, says: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bounce-worker"), err
    assert "Traceback" not in err
    assert says in lines[0], lines[0]
