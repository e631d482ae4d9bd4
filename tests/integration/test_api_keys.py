"""API keys: made and revoked with the CLI, stored hashed, checked by the real server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from bounce_worker.store.models import ApiKeyRow
from tests.conftest import run_cli
from tests.integration.api_support import client, make_key
from tests.integration.http_server import Server

CACHE_SECONDS = 2  # BOUNCE_WORKER_API_KEY_CACHE_SECONDS of the server under test


@pytest.fixture
def server(worker_env: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("BOUNCE_WORKER_API_KEY_CACHE_SECONDS", str(CACHE_SECONDS))
    s = Server().start()
    yield s
    s.stop()


def test_keys_create_list_revoke_and_the_server_follows(server: Server, worker_env: Engine) -> None:
    key = make_key("owner", "acme", "ann@acme")
    key_id = key.split("_")[1]
    with client(server.url, key) as http:
        me = http.get("/v1/me")
        assert me.status_code == 200
        assert me.json() == {
            "key_id": key_id, "name": "ann@acme", "role": "owner",
            "organization": "acme", "platform_wide": False,
        }  # fmt: skip

    # Only a slow hash of the secret is stored; the key itself is nowhere in the table.
    with worker_env.connect() as conn:
        row = conn.execute(select(ApiKeyRow)).one()
    assert row.secret_hash.startswith("scrypt$16384$8$1$")
    assert key.split("_", 2)[2] not in row.secret_hash

    listed = run_cli("keys", "list", "--json")
    assert listed.returncode == 0
    assert [(k["key_id"], k["role"], k["organization"]) for k in json.loads(listed.stdout)] == [
        (key_id, "owner", "acme")
    ]
    assert key not in listed.stdout

    revoked = run_cli("keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert f"revoked key {key_id}" in revoked.stdout
    done_at = time.monotonic()
    # The server remembers a verified key for CACHE_SECONDS (the hot path reads no key row):
    # the revocation, made by another process, is refused within that bound, on every route.
    with client(server.url, key) as http:
        while True:
            answer = http.get("/v1/me")
            check = http.get("/v1/check", params={"address": "someone@example.org"})
            if answer.status_code == 401 and check.status_code == 401:
                break
            assert time.monotonic() - done_at < CACHE_SECONDS + 1, "revoked key still accepted"
            time.sleep(0.1)
    assert answer.json() == {"error": "invalid or revoked API key"}

    log = json.loads(run_cli("audit", "--json").stdout)
    assert [(r["action"], r["target"], r["via"]) for r in log] == [
        ("keys revoke", f"key {key_id}", "cli"),
        ("keys create", f"key {key_id}", "cli"),
    ]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer nonsense", "Bearer bwk_000000000000_wrong", "Basic dXNlcjpwYXNz"],
)
def test_no_key_or_a_bad_one_is_401(server: Server, header: str | None) -> None:
    good = make_key("support")
    forged = "_".join(good.split("_")[:2]) + "_" + "A" * 43  # right id, wrong secret
    with client(server.url, None) as http:
        for value in [header, f"Bearer {forged}"]:
            answer = http.get("/v1/me", headers={"Authorization": value} if value else {})
            assert answer.status_code == 401, value
            assert answer.headers["www-authenticate"] == "Bearer"
            assert "API key" in answer.json()["error"]


def test_bad_keys_arguments_are_one_line_errors(worker_env: Engine) -> None:
    no_org = run_cli("keys", "create", "--role", "owner")
    assert no_org.returncode == 1
    assert no_org.stderr == "bounce-worker: error: an owner key needs --organization\n"
    bad_role = run_cli("keys", "create", "--role", "admin", "--organization", "acme")
    assert bad_role.returncode == 2 and "invalid choice: 'admin'" in bad_role.stderr
    unknown = run_cli("keys", "revoke", "ffffffffffff")
    assert unknown.returncode == 1
    assert "no API key with id 'ffffffffffff'" in unknown.stderr
