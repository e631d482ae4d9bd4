"""Settings the configuration refuses (config.py), each in one line naming the variable."""

from __future__ import annotations

import pytest

from bounce_worker import config
from bounce_worker.config import MIN_KEY_BYTES, ConfigError, key_problem


@pytest.mark.parametrize("name", ["SECRET_KEY", "VERP_KEY", "CONSOLE_SECRET"])
def test_an_hmac_key_shorter_than_32_bytes_is_refused(name: str) -> None:
    variable = f"BOUNCE_WORKER_{name}"
    for short in ("k", "x" * (MIN_KEY_BYTES - 1), " " * 40, "ü" * 15 + "x"):  # 31 bytes
        problem = key_problem({variable: short})
        assert problem is not None and "\n" not in problem, short
        assert problem.startswith(f"{variable} is shorter than 32 bytes"), problem
        assert "secrets.token_urlsafe(32)" in problem
    for fine in ("x" * MIN_KEY_BYTES, "ü" * 16, "K8mJ0q-Zr1xV_2s5Yb7nQe3LwA9tUc4HfG6dPi0oRk"):
        assert key_problem({variable: fine}) is None, fine
    assert key_problem({variable: ""}) is None  # unset: what needs it says so


def test_every_short_key_is_named_in_the_one_line() -> None:
    problem = key_problem(
        {"BOUNCE_WORKER_SECRET_KEY": "short", "BOUNCE_WORKER_VERP_KEY": "also short"}
    )
    assert problem is not None
    assert problem.startswith("BOUNCE_WORKER_SECRET_KEY, BOUNCE_WORKER_VERP_KEY are shorter")


def test_load_settings_refuses_a_short_key_and_a_placeholder_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOUNCE_WORKER_VERP_KEY", "k")
    with pytest.raises(ConfigError, match="BOUNCE_WORKER_VERP_KEY is shorter than 32 bytes"):
        config.load_settings()
    monkeypatch.setenv("BOUNCE_WORKER_VERP_KEY", "CHANGE-ME")
    with pytest.raises(ConfigError, match="CHANGE-ME placeholder"):
        config.load_settings()
    monkeypatch.setenv("BOUNCE_WORKER_VERP_KEY", "v" * 32)
    assert config.load_settings().intake.verp_key == "v" * 32
