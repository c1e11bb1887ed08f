"""How long pgstate waits for a lock, and how often it tries again: one place for every verb.

While pgstate waits for a lock that conflicts with the application's (a policy change, a type change, an index
drop all take ACCESS EXCLUSIVE), every later query on that table queues behind the waiting request. So the wait
of one attempt is what an application query may stall, and patience comes from many short attempts with backoff
instead of one long one. ``make bench`` (P2) measured it: with a long transaction holding the table, a 2s
attempt stalled writers for 2.0 s; 100ms attempts kept every client under about 120 ms, and the retries outlast
a transaction of half a minute.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")

DEFAULT_LOCK_TIMEOUT = "100ms"  # one attempt's wait: the longest an application query queues behind pgstate
DEFAULT_RETRIES = 10  # attempts after the first: with the backoff below, about 30 s of patience in all
BACKOFF_FIRST_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0


def backoff_seconds(attempt: int) -> float:
    """The pause after failed attempt ``attempt`` (0-based): doubling from 0.2 s up to 5 s, with jitter so that
    two waiting tools do not retry in step."""
    delay = min(BACKOFF_FIRST_SECONDS * 2**attempt, BACKOFF_MAX_SECONDS)
    return float(delay * random.uniform(0.75, 1.25))


def pause_before_retry(attempt: int) -> None:
    time.sleep(backoff_seconds(attempt))


def with_retries(attempt: Callable[[], Result], retries: int, retryable: Callable[[Exception], bool]) -> Result:
    """``attempt()``, tried again with backoff after a failure ``retryable`` accepts, at most ``retries`` more
    times; the last failure, or any other, is raised as it came."""
    for number in range(retries):
        try:
            return attempt()
        except Exception as error:
            if not retryable(error):
                raise
            pause_before_retry(number)
    return attempt()
