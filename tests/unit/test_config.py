"""Settings the configuration refuses (config.py), each in one line naming the variable."""

from __future__ import annotations

import pytest

from bounce_worker import config
from bounce_worker.config import MIN_KEY_BYTES, ConfigError, key_problem
from bounce_worker.domain.policy import ladder_problem
from bounce_worker.org_policy import BadPolicy, parse_ladder


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


@pytest.mark.parametrize("days", [(1, 2, 3, 90), (1,), (90,), (1, 3, 7, 90), (2, 4)])
def test_a_ladder_that_climbs_is_taken(days: tuple[int, ...]) -> None:
    assert ladder_problem(days) is None
    assert parse_ladder(",".join(map(str, days))) == days
    assert parse_ladder(list(days)) == days


@pytest.mark.parametrize(
    ("days", "says"),
    [
        ((3, 1), "a ladder climbs: each step longer than the one before (like 1,2,3,90); "
                 "got '3,1'"),
        ((1, 2, 2, 90), "a ladder climbs"),
        ((1, 2, 90, 3), "a ladder climbs"),
        ((0, 1), "a ladder is 1 to 20 steps of 1 to 3650 days; got '0,1'"),
        ((-1,), "1 to 3650 days"),
        ((), "1 to 20 steps"),
        (tuple(range(1, 22)), "1 to 20 steps"),
        ((1, 4000), "1 to 3650 days"),
    ],
)  # fmt: skip
def test_a_ladder_that_does_not_climb_is_refused_everywhere_by_one_rule(
    days: tuple[int, ...], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = ladder_problem(days)
    assert problem is not None and says in problem and "\n" not in problem
    with pytest.raises(BadPolicy) as refused:  # policy set --ladder, PUT /v1/policy
        parse_ladder(list(days))
    assert str(refused.value) == problem
    if days:  # BOUNCE_WORKER_LADDER_DAYS
        monkeypatch.setenv("BOUNCE_WORKER_LADDER_DAYS", ",".join(map(str, days)))
        with pytest.raises(ConfigError) as refused_env:
            config.load_settings()
        assert str(refused_env.value) == f"BOUNCE_WORKER_LADDER_DAYS: {problem}"


def test_a_blank_ladder_is_refused_not_read_as_none() -> None:
    assert parse_ladder(None) is None  # not given: the default
    for blank in ("", " "):
        with pytest.raises(BadPolicy, match="the ladder is empty"):
            parse_ladder(blank)
