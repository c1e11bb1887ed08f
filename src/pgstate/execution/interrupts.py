"""Ctrl-C and SIGTERM while an apply changes the database: stop at a safe point, never in the middle of anything.

Python raises KeyboardInterrupt wherever the main thread happens to be: between a build's end and the line that
notes it, inside psycopg while a record is written, in a ``finally``. An apply interrupted there keeps what it
built and leaves its run 'running'. So while a run is under way the first signal only asks: it cancels the
statement the server is running for the run (the build waiting for old transactions stops at once) and the
executor raises ``Interrupted`` at its next checkpoint, from where the failure path undoes and records as for any
failed step. A second signal is the user insisting: it interrupts on the spot, as Python would, and the next
apply finishes the run from its record."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

NOTICE = (
    "pgstate: interrupt received: stopping at the next safe point and undoing what this run did"
    " (interrupt again to abandon the run; the next apply then finishes it)\n"
)


class Interrupted(KeyboardInterrupt):
    """Raised at a checkpoint after a signal asked the run to stop; its text says which signal."""

    def __init__(self, signum: int) -> None:
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        super().__init__(f"interrupted ({name})")


_requested: list[int] = []  # the signals received while deferred; empty when none (module state: one apply runs)


def requested() -> bool:
    return bool(_requested)


def check() -> None:
    """A checkpoint: a safe place to stop. Raises Interrupted when a signal asked to."""
    if _requested:
        raise Interrupted(_requested[0])


def instead(failure: BaseException) -> BaseException:
    """The failure to raise for ``failure``: the interruption, when a signal caused it (a cancelled statement)."""
    return Interrupted(_requested[0]) if _requested else failure


@contextmanager
def deferred(cancel: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM ask the run to stop (``cancel`` cancels what the server runs for it)
    instead of interrupting wherever the program is. Outside the main thread signals cannot be caught: a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask(signum: int, frame: FrameType | None) -> None:
        if _requested:
            raise KeyboardInterrupt  # the second time: now
        _requested.append(signum)
        # os.write, not print: a print here, while the program is inside one, raises "reentrant call"
        with suppress(OSError):
            os.write(2, NOTICE.encode())
        with suppress(Exception):  # no connection to cancel on, or it is gone: the checkpoint still stops
            cancel()

    previous: dict[signal.Signals, Any] = {}
    for caught in (signal.SIGINT, signal.SIGTERM):
        previous[caught] = signal.signal(caught, ask)
    try:
        yield
    finally:
        for caught, handler in previous.items():
            signal.signal(caught, handler)
        _requested.clear()
