"""Progress of long jobs: named steps shown as rich progress bars, or nothing at all.

Pipeline functions take a ``Steps`` (silent by default, as in tests and library use); the
command line passes one backed by a rich ``Progress`` sharing its console with the log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress

Advance = Callable[[float], None]


def _ignore(_: float = 1) -> None:
    return None


class Steps:
    """A job's steps, each a bar (with a total) or a spinner (without one)."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress

    @contextmanager
    def step(self, description: str, total: float | None = None) -> Iterator[Advance]:
        """A step; the body advances it by calling what is yielded. Completed when the body ends."""
        progress = self.progress
        if progress is None:
            yield _ignore
            return
        task = progress.add_task(description, total=total)

        def advance(n: float = 1) -> None:
            progress.advance(task, n)

        yield advance
        done = progress.tasks[progress.task_ids.index(task)].completed
        progress.update(task, total=max(done, 1), completed=max(done, 1))


SILENT = Steps()


@contextmanager
def console_steps() -> Iterator[Steps]:
    """Steps drawn as progress bars on stderr, with log lines printed above them (on a terminal)."""
    from rich.console import Console
    from rich.logging import RichHandler
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:  # a log file or a CI job: plain log lines, no redrawn bars
        yield SILENT
        return
    root = logging.getLogger()
    handler = RichHandler(console=console, show_time=False, show_path=False, show_level=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    previous = root.handlers[:]
    root.handlers = [handler]
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            yield Steps(progress)
    finally:
        root.handlers = previous


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` of ``/proc/self/status``.

    Not ``getrusage``'s ``ru_maxrss``: Linux keeps that across ``exec``, so a command started
    from a large process (a benchmark, a test) would report its parent's size at the fork.
    """
    from pathlib import Path

    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    import resource

    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
