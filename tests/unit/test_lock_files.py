"""The lock files CI and the Dockerfile install from: every requirement pyproject.toml
declares is pinned exactly, inside the range pyproject allows (the ranges stay for library
users; the locks make CI and the image reproducible)."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
DEV = [Requirement(r) for r in PROJECT["optional-dependencies"]["dev"]]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (REPO / lock).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if match:
            found[canonical(match[1])] = match[2]
    return found


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [("requirements.lock", RUNTIME), ("requirements-dev.lock", RUNTIME + DEV)],
)
def test_every_requirement_is_pinned_inside_its_range(
    lock: str, requirements: list[Requirement]
) -> None:
    pinned = pins(lock)
    for requirement in requirements:
        version = pinned.get(canonical(requirement.name))
        assert version, f"{requirement.name} is not pinned in {lock}"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {requirement.name}=={version} outside {requirement.specifier}"
        )


def test_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_ci_and_image_install_from_the_locks() -> None:
    assert "-r requirements-dev.lock" in (REPO / "scripts" / "test").read_text()
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile and "--no-deps" in dockerfile
