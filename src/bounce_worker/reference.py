"""The reference pages of the documentation, generated from the code so they cannot drift:
every `bounce-worker` command from the real argument parser, every setting from
`config.py` (its one-line description in `config.DESCRIPTIONS`, its default from
`load_settings` itself). The docs build (`mkdocs_hooks.py`) writes them; tests check them."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

from bounce_worker import config

HELP_WIDTH = 100
SOURCE_ROOT = Path(__file__).resolve().parent
# A setting named in the code: "BOUNCE_WORKER_X" anywhere, or f"{PREFIX}X" / PREFIX + "X".
_NAMED = re.compile(
    r"BOUNCE_WORKER_([A-Z][A-Z0-9_]*[A-Z0-9])|\{PREFIX\}([A-Z][A-Z0-9_]*[A-Z0-9])"
    r"|PREFIX\s*\+\s*[\"']([A-Z][A-Z0-9_]*[A-Z0-9])[\"']"
)


# --- commands -----------------------------------------------------------------------------


def commands(
    parser: argparse.ArgumentParser | None = None, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str, argparse.ArgumentParser]]:
    """Every command and subcommand, depth first: (path, one-line help, its parser)."""
    if parser is None:
        from bounce_worker.cli import build_parser

        parser = build_parser()
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, sub in action.choices.items():
            yield (*path, name), helps.get(name, ""), sub
            yield from commands(sub, (*path, name))


def _help_text(parser: argparse.ArgumentParser) -> str:
    # argparse wraps to the terminal's width; a fixed width keeps the page the same anywhere.
    with mock.patch.dict(os.environ, {"COLUMNS": str(HELP_WIDTH)}):
        return parser.format_help().rstrip()


def cli_reference() -> str:
    from bounce_worker.cli import build_parser

    top = build_parser()
    lines = [
        "# CLI reference",
        "",
        "Generated from the argument parser at build time (`src/bounce_worker/reference.py`):",
        "this is exactly what `--help` prints. `bounce-worker --help`:",
        "",
        "```text",
        _help_text(top),
        "```",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    entries = list(commands(top))
    for path, help_line, _ in entries:
        name = " ".join(path)
        lines.append(f"| [`{name}`](#{_anchor(path)}) | {_cell(help_line)} |")
    for path, help_line, sub in entries:
        lines += [
            "",
            f"## bounce-worker {' '.join(path)} {{#{_anchor(path)}}}",
            "",
            _cell(help_line) or "",
            "",
            "```text",
            _help_text(sub),
            "```",
        ]
    return "\n".join(lines) + "\n"


def _anchor(path: tuple[str, ...]) -> str:
    return "cmd-" + "-".join(path)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# --- settings -----------------------------------------------------------------------------


def settings_defaults() -> dict[str, str]:
    """{NAME: default as shown to a reader} for every setting load_settings reads, in the
    order it reads them, with an empty environment. Read through `_get` (which holds the
    default) or directly from the environment (no default: shown as "(none)")."""
    seen: dict[str, str] = {}
    real_get = config._get

    def recording_get(name: str, default: str) -> str:
        seen.setdefault(name, default)
        return real_get(name, default)

    class RecordingEnviron(dict):  # an empty environment that notes what is asked of it
        def get(self, key: str, default: Any = None) -> Any:
            if key.startswith(config.PREFIX):
                seen.setdefault(key.removeprefix(config.PREFIX), "")
            return default

    proxy = SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
    proxy.environ = RecordingEnviron()
    with mock.patch.object(config, "_get", recording_get), mock.patch.object(config, "os", proxy):
        home = str(Path(recording_get("HOME", ".bounce-worker")).expanduser().resolve())
        config.load_settings()
    return {
        name: (default.replace(home, "$BOUNCE_WORKER_HOME") if default else "(none)")
        for name, default in seen.items()
    }


def settings_named_in_source(root: Path = SOURCE_ROOT) -> set[str]:
    """Every BOUNCE_WORKER_* name the package's code mentions (reads, messages, help)."""
    names: set[str] = set()
    for path in root.rglob("*.py"):
        for match in _NAMED.finditer(path.read_text(encoding="utf-8")):
            names.add(next(group for group in match.groups() if group))
    return names


def all_settings() -> list[str]:
    """Every setting: read by load_settings, named in the code, or described; in the order of
    config.DESCRIPTIONS, then any undescribed one (which the tests refuse)."""
    names = set(settings_defaults()) | settings_named_in_source() | set(config.DESCRIPTIONS)
    described = [name for name in config.DESCRIPTIONS if name in names]
    return described + sorted(names - set(described))


def settings_reference() -> str:
    defaults = settings_defaults()
    lines = [
        "# Settings reference",
        "",
        "Every setting is an environment variable, read once in `src/bounce_worker/config.py`.",
        "Generated at build time from `config.DESCRIPTIONS` and the defaults `load_settings`",
        "applies (`src/bounce_worker/reference.py`). An empty variable means the default.",
        "Credentials never live in the repository: put them in the environment (or `.env`",
        "for compose).",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name in all_settings():
        default = defaults.get(name, "(none)")
        shown = default if default == "(none)" else f"`{default}`"
        description = config.DESCRIPTIONS.get(name, "(no description in config.DESCRIPTIONS)")
        lines.append(f"| `{config.PREFIX}{name}` | {shown} | {_cell(description)} |")
    return "\n".join(lines) + "\n"
