"""How an apply runs: the options of ``apply`` (and of the rollback, which is an apply), in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..backup.location import default_backup_root
from ..db.patience import DEFAULT_LOCK_TIMEOUT, DEFAULT_RETRIES

if TYPE_CHECKING:
    from .restoration import Restoration


@dataclass(frozen=True)
class ApplyOptions:
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT
    retries: int = DEFAULT_RETRIES
    wait: bool = False
    wait_limit: str | None = None  # with wait: at most this long (a duration), None: as long as it takes
    plan_file: Path | None = None
    show_progress: bool = False
    allow_destructive: bool = False
    allow_authz_widening: bool = False  # steps with the authz-widening or authz-changed hazard
    backup_dir: Path = field(default_factory=default_backup_root)
    full_backup: bool = False  # --backup full: dump the whole database first
    # How long a concurrent build may wait out older transactions (a duration); None: lock_timeout, like the rest.
    build_wait: str | None = None
    # How far behind a standby may fall (a duration): a concurrent build waits while one is further behind.
    replica_lag_budget: str | None = None
    rollback_of: int | None = None  # this apply is the rollback of that run
    restoration: Restoration | None = None  # a rollback's steps that restore from the run's backup
