"""Progress of a long step (an index build, VACUUM, ANALYZE), read from ``pg_stat_progress_*`` by a second session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ..catalog import query

POLL_SECONDS = 0.2


@contextmanager
def step_progress(url: str | None, builder_pid: int, description: str) -> Iterator[None]:
    """Show a progress bar while the block runs; nothing when ``url`` is None (no terminal)."""
    if url is None:
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    stop = threading.Event()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[phase]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),  # stdout stays for the result, which may be piped
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None, phase="starting")

        def poll() -> None:
            try:
                with psycopg.connect(url, autocommit=True, application_name="pgstate-progress") as conn:
                    while not stop.wait(POLL_SECONDS):
                        row = conn.execute(query("progress"), {"pid": builder_pid}).fetchone()
                        if row is not None:
                            _update(bar, task, row)
            except psycopg.Error:
                return  # progress is a courtesy; the build goes on without it

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=2)
            bar.update(task, completed=1, total=1, phase="done")


def _update(bar: Any, task: Any, row: tuple[Any, ...]) -> None:
    phase, done, total = row
    bar.update(task, phase=phase, completed=done or 0, total=total or None)
