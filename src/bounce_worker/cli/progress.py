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
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

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


class _Rate(ProgressColumn):
    """Events per second so far (the bar itself advances by bytes of input, for the ETA)."""

    def render(self, task: Task) -> Text:
        events = task.fields.get("events", 0)
        elapsed = task.elapsed or 0
        rate = f"{events / elapsed:,.0f} events/s" if elapsed > 0.5 else "- events/s"
        return Text(f"{events:,} events, {rate}")


@contextmanager
def process_progress(total_bytes: int | None) -> Iterator[Callable[[int, int], None]]:
    """`bounce-worker process`'s bar on stderr, when it is a terminal: events applied, the
    rate, and the time left (from the bytes of input read; none for stdin). Yields
    `advance(events, bytes)`, a no-op when there is no terminal."""
    if not stderr_is_terminal():
        yield lambda _events, _bytes: None
        return
    with Progress(
        TextColumn("process"),
        BarColumn(),
        _Rate(),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("process", total=total_bytes, events=0)

        def advance(events: int, size: int) -> None:
            done = progress.tasks[task].fields["events"] + events
            progress.update(task, advance=size, events=done)

        yield advance
