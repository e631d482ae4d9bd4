"""Issue 19's rough edges, run as a newcomer runs them: the real `bounce-worker` command on
the embedded default (SQLite files in a temporary home), output piped as in a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "bounce_worker" / "samples" / "events.jsonl"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("embedded")
    out = bw(home, "process", str(SAMPLE))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "applied 17, duplicates 1, dead-lettered 2"
    return home


def bw(
    home: Path, *args: str, secret: bool = False, input: str | None = None, **settings: str
) -> subprocess.CompletedProcess[str]:
    """The real command, piped, on a clean embedded setup under `home`; `settings` are
    BOUNCE_WORKER_* overrides (database_url="...")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOUNCE_WORKER_")}
    env["BOUNCE_WORKER_HOME"] = str(home)
    if secret:
        env["BOUNCE_WORKER_SECRET_KEY"] = "a test secret, not for production"
    env |= {f"BOUNCE_WORKER_{k.upper()}": v for k, v in settings.items()}
    return subprocess.run(
        [sys.executable, "-m", "bounce_worker.cli", *args],
        capture_output=True,
        text=True,
        input=input,
        env=env,
        cwd=home,
        timeout=60,
    )


def test_status_of_a_phone_number_needs_no_channel_flag(home: Path) -> None:
    out = bw(home, "status", "+49 151 12345678")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "+4915112345678 (sms): blocked - hard_bounce"
    assert "invalid email address" not in out.stderr


def test_piped_status_keeps_the_whole_mta_reply_and_the_date(home: Path) -> None:
    out = bw(home, "status", "nobody@example.org")
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "hard_bounce" in line and "550" in line)
    assert "2026-11-20T08:00:00Z" in row
    assert "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown" in row


def test_process_takes_a_directory_of_files(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    (feed / "day2").mkdir(parents=True)
    lines = SAMPLE.read_text().splitlines()
    (feed / "a.jsonl").write_text("\n".join(lines[:10]) + "\n")
    (feed / "day2" / "b.jsonl").write_text("\n".join(lines[10:]) + "\n")
    out = bw(tmp_path, "process", str(feed))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "applied 17, duplicates 1, dead-lettered 2"
    empty = tmp_path / "empty"
    empty.mkdir()
    out = bw(tmp_path, "process", str(empty))
    assert out.returncode == 1
    assert out.stderr.strip() == f"bounce-worker: error: no files in directory: {empty}"


def test_process_and_publish_read_a_pipe_named_as_a_file(tmp_path: Path) -> None:
    # `bounce-worker process <(zcat feed.jsonl.gz)` names a pipe (/dev/fd/63): it was
    # refused as "no such file" since a pipe is not a regular file.
    pipe = tmp_path / "feed.pipe"
    os.mkfifo(pipe)
    writer = subprocess.Popen(["sh", "-c", f"cat {SAMPLE} > {pipe}"])
    out = bw(tmp_path, "process", str(pipe))
    writer.wait(timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "applied 17, duplicates 1, dead-lettered 2"


def test_health_on_the_embedded_broker_says_why_no_worker_is_pinged(home: Path) -> None:
    out = bw(home, "health")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "healthy: database, broker, worker not pinged (sqla+sqlite broker has no broadcast; "
        "Redis has)"
    )
    out = bw(home, "health", "--worker", "celery@mx-1")
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "bounce-worker: error: cannot ping celery@mx-1: the sqla+sqlite broker has no "
        "broadcast (use Redis or RabbitMQ for worker pings, or --skip-worker)"
    )


def test_output_cut_short_by_its_reader_is_quiet(home: Path) -> None:
    """`bounce-worker status ... | head -1`: the reader closing the pipe gives no message
    and no traceback (status 1, as rich does for its tables; print's lines do the same)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOUNCE_WORKER_")}
    env["BOUNCE_WORKER_HOME"] = str(home)
    command = f"{sys.executable} -m bounce_worker.cli status nobody@example.org"
    # `true` exits without reading: the command writes into a pipe nobody reads (EPIPE).
    script = f"{command} | head -c 10; echo; {command} | true; echo status ${{PIPESTATUS[0]}}"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                         cwd=home, timeout=60)  # fmt: skip
    assert out.stdout.startswith("nobody@exa"), out.stdout
    assert out.stdout.splitlines()[-1] == "status 1", out.stdout
    assert out.stderr == "", out.stderr  # no "Broken pipe", no traceback


def test_plain_lines_cut_short_are_quiet_too(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOUNCE_WORKER_")}
    env["BOUNCE_WORKER_HOME"] = str(tmp_path)
    feed = tmp_path / "feed.jsonl"
    feed.write_text(SAMPLE.read_text())
    command = f"{sys.executable} -m bounce_worker.cli process {feed}"  # print(), not rich
    out = subprocess.run(["bash", "-c", f"{command} | true; echo status ${{PIPESTATUS[0]}}"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)  # fmt: skip
    assert out.stdout.strip() == "status 1", out.stdout
    assert "Broken pipe" not in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_dead_letters_discard_at_the_cli_is_all_or_nothing_and_audited(tmp_path: Path) -> None:
    # It was HTTP only (POST /v1/dead-letters/discard): the CLI could list and replay.
    assert bw(tmp_path, "process", str(SAMPLE)).returncode == 0  # two dead letters
    ids = [line.split("\t")[0] for line in bw(tmp_path, "dead-letters", "list").stdout.splitlines()]
    assert len(ids) == 2, ids
    helped = bw(tmp_path, "dead-letters", "discard", "--help")
    assert helped.returncode == 0 and "audit" in helped.stdout
    unknown = bw(tmp_path, "dead-letters", "discard", ids[0], "999", "--reason", "junk")
    assert unknown.returncode == 1, unknown.stdout
    assert unknown.stderr.strip() == (
        "bounce-worker: error: no dead letter with id 999 "
        "(see `bounce-worker dead-letters list --all`)"
    )
    blank = bw(tmp_path, "dead-letters", "discard", ids[0], "--reason", " ")
    assert blank.returncode == 2 and blank.stderr.strip() == (
        "bounce-worker dead-letters discard: error: argument --reason: empty: say why (it is "
        "kept in the audit log) (see `bounce-worker dead-letters discard --help`)"
    ), blank.stderr
    assert len(bw(tmp_path, "dead-letters", "list").stdout.splitlines()) == 2  # none went
    done = bw(tmp_path, "dead-letters", "discard", *ids, "--reason", "staging test mail")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"discarded 2 dead letters: {ids[0]}, {ids[1]}"
    assert bw(tmp_path, "dead-letters", "list", "--all").stdout.strip() == "no dead letters"
    audited = bw(tmp_path, "audit", "--json")
    rows = [r for r in json.loads(audited.stdout) if r["action"] == "dead-letters discard"]
    assert [(r["outcome"], r["reason"], r["target"]) for r in rows] == [
        ("done", "staging test mail", f"dead letters {ids[0]}, {ids[1]}")
    ]


def test_a_blank_list_is_refused_by_the_real_command(home: Path) -> None:
    # `--list "$LIST"` with LIST unset read as no list: the organization's entries only.
    for argv in (
        ["status", "jane@example.org", "--organization", "acme", "--list", ""],
        ["verp", "encode", "jane@example.org", "--organization", "acme", "--list", " "],
    ):
        out = bw(home, *argv)
        assert out.returncode == 2, out.stdout
        assert out.stderr.count("\n") == 1, out.stderr
        assert "argument --list: empty: name the list, or leave --list out" in out.stderr


LONG_LOCAL = "a" * 300  # flanker parses it; RFC 5321 4.5.3.1.1 allows 64 octets
DSN = f"""From: MAILER-DAEMON@mx.example.net
To: bounces@example.com
Subject: Undelivered Mail Returned to Sender
Date: Mon, 23 Nov 2026 10:00:00 +0000
Message-ID: <dsn-long-local@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {LONG_LOCAL}@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--B--
"""


def test_an_address_over_rfc_5321s_lengths_is_bad_input_not_an_entry(tmp_path: Path) -> None:
    # A bounce naming it, and an event: dead letters with the reason, no entry, no crash.
    mail = tmp_path / "long.eml"
    mail.write_text(DSN)
    feed = tmp_path / "long.jsonl"
    feed.write_text(
        json.dumps({"event_id": "long-1", "type": "bounce", "recipient": "b" * 65 + "@example.org",
                    "status": "5.1.1", "occurred_at": "2026-11-20T10:00:00Z"}) + "\n"
    )  # fmt: skip
    for path in (mail, feed):
        out = bw(tmp_path, "process", str(path))
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "applied 0, duplicates 0, dead-lettered 1"
        assert "Traceback" not in out.stderr
    letters = json.loads(bw(tmp_path, "dead-letters", "list", "--json").stdout)
    assert (
        sorted(r["reason"][:50] for r in letters)
        == ["email local part longer than 64 octets (RFC 5321):"] * 2
    )
    assert bw(tmp_path, "export", "-o", str(tmp_path / "all.csv")).returncode == 0
    assert LONG_LOCAL not in (tmp_path / "all.csv").read_text()
    asked = bw(tmp_path, "status", LONG_LOCAL + "@example.org")
    assert asked.returncode == 1 and asked.stderr.count("\n") == 1, asked.stderr
    assert "email local part longer than 64 octets (RFC 5321)" in asked.stderr
    fits = bw(tmp_path, "status", "a" * 64 + "@example.org")
    assert fits.returncode == 0 and "active" in fits.stdout, fits.stderr
