"""The `bounce-worker` command. Each subcommand group lives in its own module with a
`register(subparsers)` function; this module wires them and turns every expected failure
into one line on stderr (never a traceback)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import SQLAlchemyError

from bounce_worker.cli import (
    audit,
    check_import,
    db,
    dead_letters,
    demo,
    events,
    export,
    forget,
    health,
    intake,
    jobs,
    keys,
    manual,
    metrics,
    policy,
    robinson,
    serve,
    stats,
    status,
)
from bounce_worker.cli.common import CliError
from bounce_worker.config import ConfigError, settings
from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.domain.events import InvalidEvent
from bounce_worker.observability.logs import configure_cli

COMMAND_MODULES = [events, status, jobs, stats, db, demo, health, metrics]
COMMAND_MODULES += [manual, export, check_import, forget]  # operator workflows
COMMAND_MODULES += [dead_letters]  # inputs that could not be applied, and their replay
COMMAND_MODULES += [intake]  # VERP addresses, MTA pipe
COMMAND_MODULES += [serve]  # the HTTP service: webhooks, /v1 API, console
COMMAND_MODULES += [keys, audit]  # identity at the HTTP API, and what was done with it
COMMAND_MODULES += [robinson, policy]  # do-not-contact lists; per-organization policy


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, naming where the help is."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bounce-worker",
        description=(
            "Turn bounces, complaints and unsubscribes into suppression decisions with their "
            "reasons, and answer 'may I send to this address, and if not, why?'. "
            "Database and broker come from BOUNCE_WORKER_DATABASE_URL and "
            "BOUNCE_WORKER_BROKER_URL (default: SQLite files under ./.bounce-worker/)."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A command run by an MTA (pipe) fails temporarily, whatever the cause (a setting, a home
    # directory it cannot create, a bug): the MTA keeps the mail and retries, where exit 1
    # would bounce it, i.e. lose it.
    failure: int = getattr(args, "failure_status", 1)
    status = _run(args)
    if status == 1 and failure != 1:
        return failure
    return status


def _run(args: argparse.Namespace) -> int:
    failure: int = getattr(args, "failure_status", 1)
    try:
        configure_cli(settings().log_format)
        return int(args.func(args) or 0)
    except (CliError, ConfigError, InvalidEvent, InvalidAddress) as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return _fail(f"database error: {first} ({DATABASE_HINT})")
    except BrokerError as exc:
        return _fail(f"broker unavailable: {exc} ({BROKER_HINT})")
    except BrokenPipeError:  # `bounce-worker ... | head`: the reader stopped reading
        # Quiet, status 1: what rich does when a table meets a closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 1
    except ImportError as exc:  # a database or broker URL whose driver is not installed
        return _fail(f"{exc}: a driver this configuration needs is not installed ({DRIVER_HINT})")
    except OSError as exc:
        if exc.filename:
            return _fail(f"{exc.strerror or exc}: {exc.filename} (check the path and its rights)")
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if failure == 1:
            raise
        return _fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


DATABASE_HINT = (
    "check BOUNCE_WORKER_DATABASE_URL: the server is up, the database exists and "
    "`bounce-worker db upgrade` ran"
)
BROKER_HINT = "is the broker running? check BOUNCE_WORKER_BROKER_URL"
DRIVER_HINT = "BOUNCE_WORKER_DATABASE_URL takes postgresql:// or sqlite:///"


def _fail(message: str) -> int:
    # One line, whatever the message carried (a driver's multi-line error included).
    print("bounce-worker: error: " + " ".join(message.split()), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
