"""Fixtures for the integration tests. `cli`: `bounce-worker` in this process, for tests that
run many commands (a command line costs seconds on the shared machine, `main()`
milliseconds): the same parser, the same error handling, the same output."""

from __future__ import annotations

from typing import Any

import pytest

from bounce_worker.cli import main
from tests.conftest import set_env


@pytest.fixture
def cli(env: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """`bounce-worker ARGS` in this process: (exit code, stdout, stderr)."""
    set_env(monkeypatch, secret_key="a test secret, not for production")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
