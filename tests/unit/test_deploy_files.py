"""docker-compose.yml, .env.example and Dockerfile, checked without a Docker engine: every
command names a real entry point, one beat, migrations first, healthchecks everywhere,
Flower behind basic auth, nothing published beyond 127.0.0.1, no credential inline."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bounce_worker.cli import build_parser
from tests.conftest import REPO
from tests.unit.compose import (
    app_services,
    env_example,
    healthcheck_argv,
    interpolate,
    load,
    references,
)

COMPOSE = load()
ENV = env_example()
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|AUTH|KEY", re.I)
LONG_RUNNING = [name for name in COMPOSE["services"] if name != "migrate"]


def command(service: dict[str, Any]) -> list[str]:
    argv = service["command"]
    argv = shlex.split(argv) if isinstance(argv, str) else argv
    return [interpolate(str(arg), ENV) for arg in argv]


def check_bounce_worker(argv: list[str]) -> None:
    assert argv[0] == "bounce-worker"
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"bounce-worker does not accept: {argv}")


# The console scripts and the modules that run them (pyproject's [project.scripts]).
CELERY_COMMANDS = {"celery": "celery", "bounce-worker-celery": "bounce_worker.celery_cli"}


def check_celery(argv: list[str]) -> None:
    """The real celery command line parses (click rejects unknown options before --help)."""
    assert argv[0] in CELERY_COMMANDS and argv[1:3] == ["-A", "bounce_worker.celery_app"], argv
    done = subprocess.run(
        [sys.executable, "-m", CELERY_COMMANDS[argv[0]], *argv[1:], "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, f"{argv}: {done.stderr[-800:]}"


@pytest.mark.parametrize("name", sorted(app_services(COMPOSE)))
def test_every_command_names_an_entry_point_that_exists(name: str) -> None:
    argv = command(COMPOSE["services"][name])
    if argv[0] == "bounce-worker":
        check_bounce_worker(argv)
    else:
        check_celery(argv)


def test_worker_and_beat_run_celery_without_its_plugins() -> None:
    """Flower's command plugin pulls its app and tornado into any `celery` process; the
    worker and beat are started without plugins, Flower with them."""
    services = COMPOSE["services"]
    assert command(services["worker"])[0] == "bounce-worker-celery"
    assert command(services["beat"])[0] == "bounce-worker-celery"
    assert command(services["flower"])[0] == "celery"
    probe = (
        "import sys\n"
        "sys.argv = ['x', '-A', 'bounce_worker.celery_app', 'worker', '--help']\n"
        "import {module} as m\n"
        "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(n for n in ('flower', 'tornado') if n in sys.modules))"
    )
    for module, loaded in (
        ("bounce_worker.celery_cli", "[]"),
        ("celery.__main__", "['flower', 'tornado']"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", probe.format(module=module)],
            capture_output=True, text=True, cwd=REPO, check=True,
        )  # fmt: skip
        assert done.stdout.strip().splitlines()[-1] == loaded, (module, done.stdout[-500:])


def test_exactly_one_beat_and_no_embedded_beat() -> None:
    commands = {name: command(s) for name, s in app_services(COMPOSE).items()}
    beats = [name for name, argv in commands.items() if "beat" in argv]
    assert beats == ["beat"]
    assert COMPOSE["services"]["beat"].get("deploy", {}).get("replicas", 1) == 1
    for argv in commands.values():
        assert "-B" not in argv and "--beat" not in argv  # a worker with beat inside


def test_migrations_run_once_before_everything_else() -> None:
    services = COMPOSE["services"]
    migrate = services["migrate"]
    assert command(migrate) == ["bounce-worker", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in app_services(COMPOSE).items():
        if name != "migrate":
            condition = service["depends_on"]["migrate"]["condition"]
            assert condition == "service_completed_successfully", name


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck(name: str) -> None:
    service = COMPOSE["services"][name]
    argv = healthcheck_argv(service)
    assert service["healthcheck"]["interval"] and service["healthcheck"]["timeout"]
    if argv[0] == "bounce-worker":
        check_bounce_worker(argv)
    if name == "worker":  # the worker checks that it answers a ping itself
        inner = shlex.split(interpolate(argv[2], ENV).replace("$HOSTNAME", "host"))
        check_bounce_worker(inner)
        assert inner[1:4] == ["health", "--worker", "celery@host"]


def test_flower_requires_basic_auth_from_the_environment() -> None:
    flower_env = COMPOSE["services"]["flower"]["environment"]
    assert [(n, op) for n, op, _ in references(flower_env["FLOWER_BASIC_AUTH"])] == [
        ("FLOWER_BASIC_AUTH", ":?")
    ]
    assert "--basic-auth" not in " ".join(command(COMPOSE["services"]["flower"]))
    assert "FLOWER_UNAUTHENTICATED_API" not in flower_env


def test_no_credential_is_written_inline() -> None:
    for name, service in COMPOSE["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_WORDS.search(key):
                refs = references(str(value))
                assert refs and str(value).startswith("${"), f"{name}.{key} is inline"
    url = COMPOSE["services"]["worker"]["environment"]["BOUNCE_WORKER_DATABASE_URL"]
    # The password in the URL is the variable's value and nothing else.
    assert make_url(interpolate(url, ENV | {"POSTGRES_PASSWORD": "s3"})).password == "s3"
    for key, value in ENV.items():  # the example holds placeholders only
        if SECRET_WORDS.search(key) and value:
            assert "CHANGE-ME" in value, key


def test_nothing_listens_beyond_localhost_by_default() -> None:
    published = {}
    for name, service in COMPOSE["services"].items():
        for port in service.get("ports", []):
            published[name] = interpolate(str(port), {})  # the defaults, without a .env
            assert published[name].startswith("127.0.0.1:"), (name, port)
    assert set(published) == {"flower", "metrics", "serve", "lmtp"}
    binds = ("FLOWER_BIND", "METRICS_BIND", "SERVE_BIND", "LMTP_BIND")
    assert not any(ENV.get(n, "127.0.0.1") != "127.0.0.1" for n in binds)


def test_every_setting_is_passed_and_documented() -> None:
    """Each BOUNCE_WORKER_* variable config.py reads reaches the containers, and every
    variable the compose file uses is in .env.example or has a default."""
    config = (REPO / "src/bounce_worker/config.py").read_text()
    readers = r'(?:_get|_int|_secret|_names)\("(\w+)"'
    names = {f"BOUNCE_WORKER_{n}" for n in re.findall(readers, config)}
    names |= {f"BOUNCE_WORKER_{n}" for n in re.findall(r'PREFIX \+ "(\w+)"', config)}
    names -= {"BOUNCE_WORKER_HOME"}  # fixed by the image
    for name, service in app_services(COMPOSE).items():
        assert names <= set(service["environment"]), (name, names - set(service["environment"]))
    text = (REPO / "docker-compose.yml").read_text()
    for variable, op, _ in references(text):
        assert variable in ENV or op in (":-", "-"), variable
    for variable in names - {"BOUNCE_WORKER_DATABASE_URL", "BOUNCE_WORKER_BROKER_URL"}:
        assert variable in ENV, f"{variable} missing from .env.example"


def test_named_volumes_keep_the_state() -> None:
    declared = set(COMPOSE["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in COMPOSE["services"]["postgres"]["volumes"]
    for service in COMPOSE["services"].values():
        for mount in service.get("volumes", []):
            assert mount.split(":", 1)[0] in declared, mount
    assert "ports" not in COMPOSE["services"]["postgres"]
    assert "ports" not in COMPOSE["services"]["redis"]


def test_dockerfile_installs_the_package_and_runs_unprivileged() -> None:
    lines = (REPO / "Dockerfile").read_text().splitlines()
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert froms and all(f == "python:3.11-slim" for f in froms)
    assert any(line.startswith("RUN pip install") for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".git" in ignored


def test_redis_has_a_password_and_fsyncs_every_write() -> None:
    redis = COMPOSE["services"]["redis"]
    assert [(n, op) for n, op, _ in references(redis["environment"]["REDIS_PASSWORD"])] == [
        ("REDIS_PASSWORD", ":?")
    ]
    script = redis["command"][-1]
    assert "--appendfsync always" in script and '--requirepass "$$REDIS_PASSWORD"' in script
    assert "everysec" not in script
    # The script itself: refuses the placeholder (and nothing), starts with a real password.
    runnable = script.replace("$$", "$").replace("exec redis-server", "exec echo redis-server")
    for password, started in (("CHANGE-ME", False), ("", False), ("s3cret-Pass", True)):
        out = subprocess.run(
            ["sh", "-c", runnable],
            env={"REDIS_PASSWORD": password, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert (out.returncode == 0) is started, (password, out.stderr)
        if started:
            assert out.stdout.split()[-2:] == ["--requirepass", "s3cret-Pass"]
        else:
            assert "CHANGE-ME" in out.stderr and out.stderr.count("\n") == 1
    # Every app service reaches Redis with the password.
    for name, service in app_services(COMPOSE).items():
        url = interpolate(service["environment"]["BOUNCE_WORKER_BROKER_URL"],
                          ENV | {"REDIS_PASSWORD": "pw1"})  # fmt: skip
        assert url == "redis://:pw1@redis:6379/0", name


def test_every_app_service_refuses_the_placeholders_of_env_example() -> None:
    from bounce_worker.config import placeholder_problem

    for name, service in app_services(COMPOSE).items():
        env = {k: interpolate(str(v), ENV) for k, v in service["environment"].items()}
        problem = placeholder_problem(env)
        assert problem and "CHANGE-ME" in problem and "\n" not in problem, name
        real = {k: v.replace("CHANGE-ME", "real-value") for k, v in env.items()}
        assert placeholder_problem(real) is None, name
    flower = {k: interpolate(str(v), ENV) for k, v in
              COMPOSE["services"]["flower"]["environment"].items()}  # fmt: skip
    assert "FLOWER_BASIC_AUTH" in (placeholder_problem(flower) or "")
