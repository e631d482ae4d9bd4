"""Reading docker-compose.yml as compose would: YAML anchors, then ${VAR} interpolation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ is a literal $.
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def load() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def references(text: str) -> list[tuple[str, str | None, str]]:
    """(name, operator, default or message) for each ${...} in `text`."""
    return [(m[1], m[2], m[3] or "") for m in VARIABLE.finditer(text.replace("$$", ""))]


def interpolate(text: str, env: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name, op, arg = m[1], m[2], m[3] or ""
        if env.get(name):
            return env[name]
        if op in (":-", "-"):
            return arg
        raise AssertionError(f"${{{name}}} is required and not in .env.example")

    return VARIABLE.sub(one, text).replace("$$", "$")


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run our image (the others are Redis and PostgreSQL)."""
    return {name: s for name, s in compose["services"].items() if "build" in s}


def healthcheck_argv(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    if test[0] == "CMD":
        return list(test[1:])
    assert test[0] == "CMD-SHELL"
    return ["/bin/sh", "-c", test[1]]


def read(path: Path) -> str:
    return path.read_text()
