"""A newcomer's first minutes: the README's first command (the demo on the embedded default;
the venv is the one running the tests), then the tour's commands in order, each output's
first line as the README shows it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]


def tour() -> list[tuple[list[str], str]]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("<!-- --8<-- [start:tour] -->")[1].split("<!-- --8<-- [end:tour] -->")[0]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block, "the tour has no console block"
    steps: list[tuple[list[str], str]] = []
    for line in block.group(1).splitlines():
        if line.startswith("$ .venv/bin/bounce-worker "):
            steps.append((line.removeprefix("$ .venv/bin/bounce-worker ").split(), ""))
        elif steps and not steps[-1][1]:
            steps[-1] = (steps[-1][0], line)
    return steps


def test_readme_first_command_then_the_tour(env: object) -> None:
    first = (REPO / "README.md").read_text().splitlines()[3]
    assert first.endswith(".venv/bin/bounce-worker demo")
    demo = run_cli("demo", timeout=180)
    assert demo.returncode == 0, demo.stderr[-2000:]
    steps = tour()
    assert len(steps) >= 4
    for args, expected in steps:
        args = [str(REPO / a) if a.startswith("src/") else a for a in args]
        out = run_cli(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert out.stdout.splitlines()[0] == expected, (args, out.stdout)
