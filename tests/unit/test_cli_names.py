"""Names a caller gives (an organization, a list) are never blank, at the CLI and over HTTP,
and `dead-letters discard` is a CLI command as it is an HTTP route."""

from __future__ import annotations

import argparse

import pytest

from bounce_worker.cli import build_parser
from bounce_worker.cli.common import list_name, organization
from bounce_worker.http.v1.identity import ApiError, named


@pytest.mark.parametrize(
    ("check", "flag"), [(organization, "--organization"), (list_name, "--list")]
)
def test_a_blank_name_is_refused_at_the_cli(check: object, flag: str) -> None:
    what = flag.removeprefix("--")
    for blank in ("", " ", "\t"):
        with pytest.raises(argparse.ArgumentTypeError) as refused:
            check(blank)  # type: ignore[operator]
        assert str(refused.value) == f"empty: name the {what}, or leave {flag} out"
    assert check("news") == "news"  # type: ignore[operator]


def test_a_blank_name_is_refused_over_http() -> None:
    assert named(None, "list") is None  # left out: fine
    assert named("news", "list") == "news"
    for blank in ("", "  "):
        with pytest.raises(ApiError) as refused:
            named(blank, "list")
        assert refused.value.status == 422
        assert refused.value.message == "list is empty: name the list, or leave it out"


def test_every_list_option_refuses_a_blank_value() -> None:
    parser = build_parser()
    for argv in (
        ["status", "a@example.org", "--organization", "acme", "--list", ""],
        ["suppress", "a@example.org", "--list", " ", "--reason", "r", "--actor", "a"],
        ["check-import", "c.csv", "--organization", "acme", "--list", "", "-o", "r.csv"],
        ["verp", "encode", "a@example.org", "--organization", "acme", "--list", ""],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)


def test_dead_letters_discard_takes_ids_and_a_reason() -> None:
    parser = build_parser()
    args = parser.parse_args(["dead-letters", "discard", "3", "4", "--reason", "junk"])
    assert (args.ids, args.reason, args.func.__name__) == ([3, 4], "junk", "run_discard")
    for argv in (
        ["dead-letters", "discard", "--reason", "junk"],  # no id: never "all of them"
        ["dead-letters", "discard", "3"],  # no reason
        ["dead-letters", "discard", "0", "--reason", "junk"],
        ["dead-letters", "discard", "3", "--reason", ""],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
