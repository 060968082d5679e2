"""Progress display for long steps: Go builds and cluster start-up take minutes the first time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

console = Console(stderr=True)  # progress, messages and errors
out = Console()  # the data a command was asked for (tables, views), so it can be piped


class StepProgress:
    """Adapts rich.Progress to the (step, done, total) and (message) callbacks of lower layers."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    @property
    def progress(self) -> Progress:
        return self._progress

    def step(self, name: str, done: int, total: int) -> None:
        key = name.removeprefix("building ").removeprefix("built ")
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(name, total=total or None)
        self._progress.update(
            self._tasks[key], description=name, completed=done, total=total or None
        )

    def say(self, message: str) -> None:
        self._progress.console.print(f"[dim]·[/dim] {message}")


@contextmanager
def progress_display(kind: type[Progress] = Progress) -> Iterator[StepProgress]:
    """A live display of steps; `kind` may be a Progress that renders more below its bars."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with kind(*columns, console=console, transient=False) as progress:
        yield StepProgress(progress)
