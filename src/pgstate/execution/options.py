"""How an apply runs: the options of ``apply`` (and of the rollback, which is an apply), in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg


@dataclass(frozen=True)
class ApplyOptions:
    lock_timeout: str = "2s"
    retries: int = 5
    wait: bool = False
    wait_limit: str | None = None  # with wait: at most this long (a duration), None: as long as it takes
    plan_file: Path | None = None
    show_progress: bool = False
    allow_destructive: bool = False
    backup_dir: Path = Path(".pgstate/backups")
    full_backup: bool = False  # --backup full: dump the whole database first
    rollback_of: int | None = None  # this apply is the rollback of that run
    # Run under the advisory lock before planning (rollback restores retired tables there).
    prelude: Callable[[psycopg.Connection[Any]], None] | None = None
