"""Security hygiene of the repository itself: no credentials committed, and SQL built only
from constant strings with bound parameters (never an f-string, % or + on a statement)."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SQL_CALLS = {"text", "exec_driver_sql", "execute", "executescript"}

# Placeholders the README uses to show the URL format; anything else is taken for real.
PLACEHOLDERS = ("://user:pass@", "://bounce:secret@", "://user:password@")
# Values that say they are not real: a bench's or a test's own HMAC key, an example.
FAKE = re.compile(r"(?i)bench|test|example|dummy|changeme")
SECRETS = [
    re.compile(r"[a-z+]+://[^/\s:@'\"]+:[^/\s@'\"]+@"),  # user:password@host in a URL
    re.compile(r"(?i)(password|passwd|secret|token)\s*[=:]\s*['\"][^'\"\s]{6,}['\"]"),
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / name for name in out.stdout.splitlines() if (REPO / name).is_file()]


def test_no_credentials_in_the_repository() -> None:
    found = []
    for path in tracked_files():
        if path.name == "test_hygiene.py":
            continue
        try:
            content = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [
            f"{path.relative_to(REPO)}: {m.group(0)}"
            for p in SECRETS
            for m in p.finditer(content)
            if not m.group(0).endswith(PLACEHOLDERS) and not FAKE.search(m.group(0))
        ]
    assert not found, "credentials in the repository:\n" + "\n".join(found)


def built_sql(node: ast.Call) -> bool:
    """A statement assembled at run time: f-string, % formatting, concatenation, .format()."""
    if not node.args:
        return False
    first = node.args[0]
    return (
        isinstance(first, ast.JoinedStr)
        or (isinstance(first, ast.BinOp) and isinstance(first.op, ast.Mod | ast.Add))
        or (isinstance(first, ast.Call) and getattr(first.func, "attr", None) == "format")
    )


def test_sql_in_the_package_uses_bound_parameters_only() -> None:
    offenders = []
    for path in sorted((REPO / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in SQL_CALLS and built_sql(node):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, "SQL built from strings at run time: " + ", ".join(offenders)
