"""Mail from the MTA side, as Postfix's pipe transport runs `bounce-worker pipe`: a forged
bounce (no token, or a token made with another key) and an ARF report from an untrusted
mailbox change no state and are counted as unverified; the same mails delivered to a valid
VERP address suppress the token's recipient in the token's organization. A dead broker
gives EX_TEMPFAIL (75) so the MTA keeps the mail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine, text

from bounce_worker.domain import verp
from tests.conftest import REPO, Worker, run_cli, set_env, wait_until
from tests.integration.api_support import client, make_key
from tests.integration.http_server import Server, free_port

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "parsers" / "fixtures"
KEY, DOMAIN = "test-verp-key-intake-of-32-bytes-or-more", "verp.sender.example"


def pipe(
    mail: bytes, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bounce_worker.cli", "pipe", *args],
        input=mail, capture_output=True, timeout=60, cwd=REPO, env=env,
    )  # fmt: skip


def counter(prom: Path, name: str) -> dict[tuple[str, ...], float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(prom))
    return {
        tuple(s.labels.values()): s.value
        for family in registry.collect() if family.name == name
        for s in family.samples if s.name.endswith("_total")
    }  # fmt: skip


@pytest.fixture
def mta_env(worker_env: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    prom = tmp_path / "prom"
    prom.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(prom))
    # `fbl`: a feedback-loop mailbox the operator declared trusted (verified, no organization).
    set_env(monkeypatch, verp_domain=DOMAIN, verp_key=KEY, trusted_sources="fbl")
    return prom


def test_forged_feedback_changes_nothing_and_tokens_attribute(
    mta_env: Path, worker_env: Engine
) -> None:
    dsn = (FIXTURES / "dsn_postfix_org_list.eml").read_bytes()  # says X-Organization: acme
    arf = (FIXTURES / "arf_abuse.eml").read_bytes()
    forged_token = verp.encode("alice@example.org", "acme", None, key="attacker", domain=DOMAIN)
    alice = verp.encode("alice@example.org", "org-a", "news", key=KEY, domain=DOMAIN)
    dave = verp.encode("dave@example-isp.net", "org-d", None, key=KEY, domain=DOMAIN)

    # Forged: no token; a token made with another key; an ARF report from a mailbox nobody
    # declared trusted. Each is queued (exit 0) and will change nothing.
    assert pipe(dsn).returncode == 0
    assert (
        pipe(
            dsn.replace(b"Message-Id: <", b"Message-Id: <x"), "--recipient", forged_token
        ).returncode
        == 0
    )
    assert pipe(arf).returncode == 0
    # From the trusted mailbox: verified, but a complaint naming no organization is
    # unattributed (SPEC 7) and changes nothing either. Its own report, not a copy.
    trusted_arf = arf.replace(b"fbl-0001", b"fbl-0002").replace(b"nl-2026-11-d", b"nl-2026-11-t")
    assert pipe(trusted_arf, "--source", "fbl").returncode == 0
    unparseable = pipe(b"\x00\xff this is not a mail")
    assert unparseable.returncode == 0, unparseable.stderr
    worker = Worker().start()
    try:

        def rows(sql: str) -> set[tuple[object, ...]]:
            with worker_env.connect() as conn:
                return {tuple(r) for r in conn.execute(text(sql))}

        wait_until(
            lambda: (
                rows("SELECT count(*) FROM dead_letters") == {(1,)}
                and len(rows("SELECT id FROM transitions")) >= 6
            ),
            timeout=60,
        )
        assert rows("SELECT DISTINCT state FROM entries") == {("active",)}
        kept = dict(rows("SELECT reason, count(*) FROM transitions GROUP BY reason"))
        assert set(kept) == {"unverified", "unattributed"}
        assert kept["unverified"] >= 5 and kept["unattributed"] == 1  # 2 + 2 DSN, 1 ARF
        unverified = counter(mta_env, "bounce_worker_unverified_events")
        assert unverified[("raw",)] == kept["unverified"]
        moves = counter(mta_env, "bounce_worker_transitions")
        assert sum(n for labels, n in moves.items() if "unattributed" in labels) == 1

        # `stats` and GET /v1/stats show them, live (no recalculation has run).
        shown = run_cli("stats", "--json")
        assert shown.returncode == 0, shown.stderr
        recorded = json.loads(shown.stdout)["recorded_only"]
        assert recorded == {
            "unverified": {"total": kept["unverified"], "last_24h": kept["unverified"]},
            "unattributed": {"total": 1, "last_24h": 1},
        }
        table = run_cli("stats")
        assert table.returncode == 0, table.stderr
        assert "unverified" in table.stdout and "unattributed" in table.stdout
        server = Server().start()
        try:
            answer = client(server.url, make_key("support")).get("/v1/stats")
            assert answer.status_code == 200, answer.text
            assert answer.json()["recorded_only"] == recorded
        finally:
            server.stop()

        # The same mails (same Message-IDs: an unverified copy does not shadow a verified
        # one) to valid VERP addresses: the MTA passes the envelope recipient,
        # as Postfix's pipe does with ${original_recipient}; the ARF report's token sits in
        # the returned original's Return-Path.
        assert pipe(dsn, "--recipient", alice).returncode == 0
        with_token = arf.replace(
            b"From: Acme News", f"Return-Path: <{dave}>\nFrom: Acme News".encode(), 1
        )
        assert pipe(with_token).returncode == 0
        wait_until(
            lambda: (
                ("dave@example-isp.net", "organization", "org-d", "blocked")
                in rows("SELECT address, scope, organization, state FROM entries")
            ),
            timeout=60,
        )
        entries = rows(
            "SELECT address, scope, organization, state, reason FROM entries "
            "WHERE state <> 'active'"
        )
        assert entries == {
            ("alice@example.org", "global", "", "blocked", "hard_bounce"),
            ("dave@example-isp.net", "organization", "org-d", "blocked", "complaint"),
        }
    finally:
        worker.stop()


def test_pipe_with_the_broker_down_is_a_temporary_failure(mta_env: Path) -> None:
    env = {**os.environ, "BOUNCE_WORKER_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    result = pipe((FIXTURES / "dsn_postfix_org_list.eml").read_bytes(), env=env)
    assert result.returncode == 75
    assert (
        result.stderr.decode().count("\n") == 1 and "broker unavailable" in result.stderr.decode()
    )


def test_verp_encode_prints_a_64_char_local_part(mta_env: Path) -> None:
    from tests.conftest import run_cli

    out = run_cli("verp", "encode", "Ann@Example.org", "--organization", "acme", "--list", "w")
    assert out.returncode == 0, out.stderr
    address = out.stdout.strip()
    assert address.endswith("@" + DOMAIN) and len(address.split("@")[0]) <= 64
    assert verp.verify(address, None, key=KEY, domain=DOMAIN) == verp.Claim(
        "Ann@example.org", "acme", "w"
    )
    bad = run_cli("verp", "encode", "not an address", "--organization", "acme")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1


def _as_postfix(
    mail: bytes, recipient: str, settings: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[bytes]:
    """As master.cf's `flags=Rq user=bounce argv=/usr/bin/env BOUNCE_WORKER_...=...
    .../bounce-worker pipe --recipient ${original_recipient}` runs it (docs/intake.md):
    pipe(8) gives the command no environment of the MTA's (PATH and little else), prepends
    Return-Path (flag R; a bounce's envelope sender is empty) and runs it in its own queue
    directory, so the settings come from the argv only."""
    script = Path(sys.executable).parent / "bounce-worker"
    argv = ["/usr/bin/env", *(f"{k}={v}" for k, v in settings.items()), str(script)]
    return subprocess.run(
        [*argv, "pipe", "--recipient", recipient],
        input=b"Return-Path: <>\n" + mail.replace(b"\r\n", b"\n"),
        capture_output=True, timeout=60, cwd=cwd, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_pipe_as_postfix_runs_it(mta_env: Path, worker_env: Engine, tmp_path: Path) -> None:
    queue_dir = tmp_path / "spool"
    queue_dir.mkdir()
    settings = {
        "BOUNCE_WORKER_BROKER_URL": os.environ["BOUNCE_WORKER_BROKER_URL"],
        "BOUNCE_WORKER_QUEUE": os.environ["BOUNCE_WORKER_QUEUE"],
        "BOUNCE_WORKER_HOME": str(tmp_path / "home"),
    }
    dsn = (FIXTURES / "dsn_postfix_org_list.eml").read_bytes()
    alice = verp.encode("alice@example.org", "org-p", None, key=KEY, domain=DOMAIN)
    done = _as_postfix(dsn, alice, settings, queue_dir)
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    assert list(queue_dir.iterdir()) == []  # nothing written where Postfix runs it

    # A home it cannot create (here: under a file) is a temporary failure too, not exit 1
    # (which Postfix turns into a bounce: the feedback lost).
    (tmp_path / "a-file").write_text("")
    broken = _as_postfix(
        dsn, alice, settings | {"BOUNCE_WORKER_HOME": str(tmp_path / "a-file" / "home")}, queue_dir
    )
    assert broken.returncode == 75, broken.stderr
    assert broken.stderr.decode().count("\n") == 1

    worker = Worker().start()
    try:
        with worker_env.connect() as conn:

            def state() -> set[tuple[object, ...]]:
                rows = conn.execute(
                    text("SELECT address, scope, organization, state FROM entries")
                ).all()
                conn.rollback()
                return {tuple(r) for r in rows}

            want = ("alice@example.org", "global", "", "blocked")
            wait_until(lambda: want in state(), timeout=60)
    finally:
        worker.stop()
