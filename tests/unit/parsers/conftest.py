"""Shared helpers for the parser tests: fixtures are small realistic payloads on disk."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
RECEIVED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> object:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def received_at() -> datetime:
    return RECEIVED_AT
