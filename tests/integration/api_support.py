"""Keys and a real `bounce-worker serve` for the /v1 tests."""

from __future__ import annotations

import json

import httpx

from tests.conftest import run_cli


def make_key(role: str, organization: str | None = None, name: str | None = None) -> str:
    """A key made as the administrator makes one: the real CLI."""
    args = ["keys", "create", "--role", role, "--json"]
    if organization:
        args += ["--organization", organization]
    if name:
        args += ["--name", name]
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["key"])


def client(url: str, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)
