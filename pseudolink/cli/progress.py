"""Rich progress bars behind the subsystems' plain ``progress(stage, done, total)`` callbacks.

Subsystems never print; they report progress through a callback, and the CLI draws it, on
standard error: standard output carries only results, so `> report.txt` or a pipe gets no bars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from pseudolink.cli.app import err_console

ProgressCallback = Callable[[str, int, int | None], None]


@contextmanager
def progress_bars(transient: bool = False) -> Iterator[ProgressCallback]:
    """Yield a callback that keeps one bar per stage label."""
    bars = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield update
