"""MkDocs hooks (mkdocs.yml `hooks:`): the generated reference pages and the navigation.

- docs/reference/cli.md and docs/reference/settings.md are generated from the code at
  build time (bounce_worker.reference), never written by hand, so they cannot drift.
- `--8<-- "README.md:NAME"` in a page includes the README's lines between
  `<!-- --8<-- [start:NAME] -->` and `[end:NAME]` (`README.md:FIRST:LAST`: those lines), with
  its `docs/x.md` links made relative to the page, so the README and the site say the same.
- The navigation is built from the pages present: the known pages in reading order, any
  other docs/*.md page (each feature writes its own) under "Topics" at the end. A new
  page needs no edit of mkdocs.yml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

from bounce_worker import reference

GENERATED = {
    "reference/cli.md": reference.cli_reference,
    "reference/settings.md": reference.settings_reference,
}

# (section title or None for a top-level page, [(page title or None, path)]).
SECTIONS: list[tuple[str | None, list[str]]] = [
    (None, ["index.md", "getting-started.md"]),
    ("Concepts", ["concepts.md", "classification.md", "sms.md", "writer.md"]),
    ("Integrating", ["integrating.md", "intake.md", "api.md"]),
    (
        "Operating",
        ["operating.md", "operator-workflows.md", "console.md", "hardening.md", "monitoring.md"],
    ),
    ("Reference", ["reference/cli.md", "reference/settings.md", "architecture.md"]),
    (None, ["benchmarks.md"]),
]


def on_files(files: Files, config: Any) -> Files:
    for path, generate in GENERATED.items():
        existing = files.get_file_from_path(path)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, path, content=generate()))
    config["nav"] = navigation([f.src_uri for f in files.documentation_pages()])
    return files


def navigation(pages: list[str]) -> list[Any]:
    present = set(pages)
    placed = {path for _, paths in SECTIONS for path in paths}
    nav: list[Any] = []
    for title, paths in SECTIONS:
        found = [p for p in paths if p in present]
        if title is None:
            nav.extend(found)
        elif found:
            nav.append({title: found})
    others = sorted(p for p in present - placed if p.count("/") == 0 or p.startswith("topics/"))
    others += sorted(p for p in present - placed - set(others))
    if others:
        nav.append({"Topics": others})
    return nav


README = Path(__file__).resolve().parent / "README.md"
INCLUDE = re.compile(r'^--8<-- "README\.md:([^"]+)"$', re.MULTILINE)


def readme_part(spec: str) -> str:
    lines = README.read_text(encoding="utf-8").splitlines()
    first, _, last = spec.partition(":")
    if first.isdigit():
        return "\n".join(lines[int(first) - 1 : int(last or first)])
    start, end = f"<!-- --8<-- [start:{spec}] -->", f"<!-- --8<-- [end:{spec}] -->"
    if start not in lines or end not in lines:
        raise ValueError(f"README.md has no section {spec!r} (markers {start} ... {end})")
    return "\n".join(lines[lines.index(start) + 1 : lines.index(end)])


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    up = "../" * page.file.src_uri.count("/")
    # README links point at `docs/x.md` (relative to the README); here they are `x.md`.
    return INCLUDE.sub(lambda m: readme_part(m.group(1)).replace("](docs/", f"]({up}"), markdown)
