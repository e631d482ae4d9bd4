"""A rich progress bar for the long jobs, drawn on stderr only when it is a terminal (so
pipes, cron mail and logs get just the summary line)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bounce_worker.cli.common import stderr_is_terminal
from bounce_worker.jobs import Progress as JobProgress


class _Bar:
    """One bar per job step; `done` counts rows (or entry ids scanned), plus batches."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, step: str, total: int | None) -> None:
        self.task = self.progress.add_task(step, total=total, batches=0)

    def advance(self, done: int) -> None:
        assert self.task is not None, "start() first"
        batches = self.progress.tasks[self.task].fields["batches"] + 1
        self.progress.update(self.task, advance=done, batches=batches)


@contextmanager
def job_progress() -> Iterator[JobProgress | None]:
    if not stderr_is_terminal():
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows, {task.fields[batches]} batches"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as progress:
        yield _Bar(progress)


@contextmanager
def bar(description: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A plain bar for the operator commands (export, check-import): yields
    `update(completed)`, or None when stderr is not a terminal."""
    if not stderr_is_terminal():
        yield None
        return
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda completed: progress.update(task, completed=completed)
