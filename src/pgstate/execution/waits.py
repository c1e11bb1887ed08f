"""Who keeps a step waiting: a second session watches pgstate's backend while a step runs and names the sessions
that block it (``pg_blocking_pids``: the holders of a lock it wants, or for a concurrent build the older
transactions it must wait out), in the progress output as soon as a wait lasts, and in the error when it ends one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ..catalog.blocking import Blocker, blockers_of
from ..db.connection import APPLICATION_NAME

POLL_SECONDS = 0.1

Say = Callable[[str], None]


class WaitLog:
    """What one watched stretch waited for: every blocker seen, with the oldest transaction among them."""

    def __init__(self) -> None:
        self.seen: dict[int, Blocker] = {}

    def add(self, blocker: Blocker) -> bool:
        """Remember a blocker; True when it is new."""
        new = blocker.pid not in self.seen
        self.seen[blocker.pid] = blocker
        return new

    @property
    def oldest(self) -> Blocker | None:
        aged = [b for b in self.seen.values() if b.transaction_seconds is not None]
        return max(aged, key=lambda b: b.transaction_seconds or 0.0) if aged else None

    def describe(self) -> str:
        """For an error: who blocked, oldest first; empty when nobody was seen."""
        if not self.seen:
            return ""
        ordered = sorted(self.seen.values(), key=lambda b: -(b.transaction_seconds or 0.0))
        return (
            "; blocked by "
            + "; ".join(b.describe() for b in ordered[:3])
            + (f" and {len(ordered) - 3} more" if len(ordered) > 3 else "")
        )


class WaitWatch:
    """One watching session for a whole apply; it polls only while a step is being watched."""

    def __init__(self, url: str, say: Say):
        self.url = url
        self.say = say
        self._lock = threading.Lock()
        self._target: tuple[int, str, WaitLog] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, pid: int, what: str) -> Iterator[WaitLog]:
        log = WaitLog()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pgstate-wait-watch", daemon=True)
            self._thread.start()
        with self._lock:
            self._target = (pid, what, log)
        self._wake.set()
        try:
            yield log
        finally:
            with self._lock:
                self._target = None

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True, application_name=f"{APPLICATION_NAME}-watch") as conn:
                while not self._stop.is_set():
                    with self._lock:
                        target = self._target
                    if target is None:
                        # A timeout as well as the event: a wake-up set between the read and the clear is late
                        # by at most this, never lost.
                        self._wake.wait(0.5)
                        self._wake.clear()
                        continue
                    self._poll(conn, *target)
                    self._stop.wait(POLL_SECONDS)
        except psycopg.Error:
            return  # naming blockers is a courtesy: the step runs, and is bounded by lock_timeout, without it

    def _poll(self, conn: psycopg.Connection[Any], pid: int, what: str, log: WaitLog) -> None:
        for blocker in blockers_of(conn, pid):
            if log.add(blocker):
                self.say(f"  {what} waits for {blocker.describe()}")
