"""The documentation cannot drift from the code: every setting has its one-line description
in config.DESCRIPTIONS, the generated reference pages name every command and setting, and
the site builds with every link and anchor resolving (mkdocs --strict)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bounce_worker import config, reference

REPO = Path(__file__).resolve().parents[2]


def test_every_setting_read_or_named_in_the_code_has_a_description() -> None:
    read = set(reference.settings_defaults())
    named = reference.settings_named_in_source()
    missing = sorted((read | named) - set(config.DESCRIPTIONS))
    assert not missing, (
        "settings without a one-line description in config.DESCRIPTIONS: "
        + ", ".join(config.PREFIX + name for name in missing)
    )


def test_descriptions_are_one_line_and_name_real_settings() -> None:
    real = set(reference.settings_defaults()) | reference.settings_named_in_source()
    stale = sorted(set(config.DESCRIPTIONS) - real)
    assert not stale, f"config.DESCRIPTIONS describes settings nothing reads: {stale}"
    for name, text in config.DESCRIPTIONS.items():
        assert text.strip() and "\n" not in text, f"{name}: description must be one line"


def test_the_settings_reader_is_found_by_the_recorder() -> None:
    # The recorder must see what load_settings reads, or the reference would miss settings.
    defaults = reference.settings_defaults()
    assert defaults["LADDER_DAYS"] == "1,2,3,90"
    assert defaults["SECRET_KEY"] == "(none)"
    assert defaults["DATABASE_URL"] == "sqlite:///$BOUNCE_WORKER_HOME/bounce-worker.sqlite3"
    assert len(defaults) >= 20


def test_settings_reference_lists_every_setting_with_its_default() -> None:
    page = reference.settings_reference()
    for name, default in reference.settings_defaults().items():
        row = next((line for line in page.splitlines() if f"`{config.PREFIX}{name}`" in line), "")
        assert row, f"{config.PREFIX}{name} missing from the settings reference"
        assert config.DESCRIPTIONS[name] in row.replace("\\|", "|")
        assert default in row


def test_cli_reference_has_every_command_and_its_options() -> None:
    page = reference.cli_reference()
    paths = [path for path, _, _ in reference.commands()]
    assert (
        ("status",) in paths and ("db", "upgrade") in paths and ("dead-letters", "replay") in paths
    )
    for path, _, parser in reference.commands():
        assert f"## bounce-worker {' '.join(path)} " in page, f"{path} missing"
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in page, f"{' '.join(path)} {flag} missing from the CLI reference"


def test_every_runnable_command_explains_itself_in_its_help() -> None:
    # `bounce-worker db upgrade --help`, `keys list --help`, `policy set --help` and the
    # Robinson list/remove commands printed only usage and options.
    for path, _, parser in reference.commands():
        if parser.get_default("func") is not None:
            assert parser.description, f"bounce-worker {' '.join(path)} --help has no description"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, "mkdocs build --strict failed:\n" + run.stdout + run.stderr
    return out


def test_the_site_builds_strict_and_has_the_generated_reference(site: Path) -> None:
    cli = (site / "reference" / "cli" / "index.html").read_text()
    for path, _, _ in reference.commands():
        assert f"bounce-worker {' '.join(path)}" in cli
    settings = (site / "reference" / "settings" / "index.html").read_text()
    for name in reference.all_settings():
        assert config.PREFIX + name in settings
    assert (site / "getting-started" / "index.html").is_file()


def test_a_new_topic_page_joins_the_navigation_without_editing_mkdocs_yml() -> None:
    # mkdocs --strict also refuses a page left out of the nav (validation.nav.omitted_files).
    sys.path.insert(0, str(REPO))
    try:
        import mkdocs_hooks
    finally:
        sys.path.remove(str(REPO))
    nav = mkdocs_hooks.navigation(["index.md", "sms.md", "zebra.md", "reference/cli.md"])
    assert nav == [
        "index.md",
        {"Concepts": ["sms.md"]},
        {"Reference": ["reference/cli.md"]},
        {"Topics": ["zebra.md"]},
    ]


def test_readme_links_resolve_and_its_first_lines_are_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert readme.splitlines()[2:6] == [
        "```sh",
        "python3.11 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/bounce-worker demo",
        "./scripts/test",
        "```",
    ]
    broken = []
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme):
        if "://" not in target and not (REPO / target).exists():
            broken.append(target)
    assert not broken, f"README links to missing files: {broken}"
