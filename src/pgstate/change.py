"""A change is data: what it does, to what, the SQL, the lock it takes, and what could hurt.

Hazards are decided where a change is built, from its fields, never by reading SQL text back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum

from psycopg import sql

from .model import Dependent, QualifiedName, TableSize


class Action(StrEnum):
    """What a step does. Within a phase, steps with no edge between them run in this order (then by target):
    nothing protected by RLS is ever left open (RLS is disabled before its policies are dropped, policies are
    created before RLS is enabled); what depends on a column, function or view is dropped before it changes and
    created after; the quick ACCESS EXCLUSIVE drops and renames of indexes come last, so that their locks, held
    until commit, are taken as late as possible."""

    DROP_INVALID_INDEX = "drop-invalid-index"  # DROP INDEX CONCURRENTLY, before builds
    BUILD_INDEX = "build-index"  # CREATE INDEX CONCURRENTLY, before the transaction
    DISABLE_RLS = "disable-rls"
    UNFORCE_RLS = "no-force-rls"
    DROP_POLICY = "drop-policy"
    DROP_VIEW = "drop-view"
    DROP_FUNCTION = "drop-function"
    CREATE_EXTENSION = "create-extension"  # before the functions, views and types that may use it
    ALTER_COLUMN_TYPE = "alter-column-type"
    CREATE_INDEX = "create-index"  # inside the transaction: the table is rewritten anyway
    CREATE_FUNCTION = "create-function"
    REPLACE_FUNCTION = "replace-function"
    CREATE_VIEW = "create-view"
    REPLACE_VIEW = "replace-view"
    CREATE_POLICY = "create-policy"
    ALTER_POLICY = "alter-policy"
    ENABLE_RLS = "enable-rls"
    FORCE_RLS = "force-rls"
    DROP_INDEX = "drop-index"
    RENAME_INDEX = "rename-index"
    SET_STORAGE = "set-storage"
    RESET_STORAGE = "reset-storage"
    SET_SETTING = "set-setting"
    RESET_SETTING = "reset-setting"
    RETIRE_TABLE = "retire-table"  # last: everything else that could still need the table has run
    REINDEX_INDEX = "reindex-index"  # upkeep, after the transaction
    VACUUM_TABLE = "vacuum-table"
    ANALYZE_TABLE = "analyze-table"


class Phase(Enum):
    """Where a step runs; the apply carries out the phases in this order."""

    PREPARE = 1  # non-transactional clean-up of INVALID leftovers
    BUILD = 2  # non-transactional concurrent index builds, one by one
    TRANSACTION = 3  # everything else, in one transaction under lock_timeout
    MAINTENANCE = 4  # upkeep (VACUUM, ANALYZE, REINDEX CONCURRENTLY): after the transaction, outside one


class Lock(StrEnum):
    """Table-level lock modes, weakest first (PostgreSQL's names)."""

    SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
    SHARE = "SHARE"
    ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
    NONE = "none"  # functions: no table is locked


class Hazard(StrEnum):
    """The closed list of things a step can do to a running application."""

    TABLE_REWRITE = "table-rewrite"  # the whole table is copied under ACCESS EXCLUSIVE
    ACCESS_EXCLUSIVE_LOCK = "access-exclusive-lock"  # blocks reads and writes while held
    BLOCKS_WRITES = "blocks-writes"  # a non-concurrent index build holds SHARE: writes wait
    INDEX_DROPPED = "index-dropped"  # queries that used the index may become slow
    UNIQUE_MAY_FAIL = "unique-may-fail"  # existing duplicates make the build fail (and roll back)
    INDEX_REBUILD = "index-rebuild"  # a type change rebuilds indexes on the column under ACCESS EXCLUSIVE
    DATA_LOSS = "data-loss"  # rows or values are destroyed: backed up and verified first, --allow-destructive


HAZARD_HELP: dict[Hazard, str] = {
    Hazard.TABLE_REWRITE: "the table is rewritten under ACCESS EXCLUSIVE: reads and writes wait until commit",
    Hazard.ACCESS_EXCLUSIVE_LOCK: "takes ACCESS EXCLUSIVE briefly, under lock_timeout",
    Hazard.BLOCKS_WRITES: "index built inside the transaction: writes to the table wait for the build",
    Hazard.INDEX_DROPPED: "queries that used this index may become slower",
    Hazard.UNIQUE_MAY_FAIL: "fails, and the run rolls back, if the table holds duplicate values",
    Hazard.INDEX_REBUILD: "the type change rebuilds indexes on the column under ACCESS EXCLUSIVE, without rewriting"
    " the table",
    Hazard.DATA_LOSS: "destroys data: the rows are dumped and the dump verified first; needs --allow-destructive",
}


@dataclass(frozen=True)
class Change:
    """One step of a plan."""

    action: Action
    target: str  # display name of the object, e.g. public."User_isPremium_idx"
    table: str  # display name of the table it touches
    statement: sql.SQL | sql.Composed
    lock: Lock
    phase: Phase
    summary: str  # one line for people
    rewrites: TableSize | None = None  # set when the step rewrites the table
    destroys: TableSize | None = None  # set when the step drops the table
    # The table whose rows are dumped, and the dump verified against them, before this step runs; and the
    # definitions of dependents the step drops with it (kept in the backup).
    dump: QualifiedName | None = None
    dump_definitions: tuple[Dependent, ...] = ()
    hazards: tuple[Hazard, ...] = ()
    after: tuple[str, ...] = field(default=())  # keys of steps that must run before this one
    # Run right after the statement, in the same transaction, in order: pgstate's own record of what it set,
    # privileges and owner given back to an object that had to be dropped and created.
    followups: tuple[sql.SQL | sql.Composed, ...] = ()
    # For steps outside the transaction: the statement that removes what this step made, run when a later step
    # fails (the concurrent build's index, valid or left INVALID by the failure).
    undo: sql.SQL | sql.Composed | None = None

    @property
    def key(self) -> str:
        """A stable identity of the step, used for ordering edges."""
        return f"{self.action} {self.target}"

    @property
    def transactional(self) -> bool:
        return self.phase is Phase.TRANSACTION
