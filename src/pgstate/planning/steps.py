"""A step is data: what it does, to which object, the SQL, the lock it takes, and what could hurt.

Hazards are decided where a step is built, from its fields, never by reading SQL text back. A step's identity is
typed (its action and the key of its subject), and so are its edges: hard ones (``after``, checked to exist) and
the ones the planner derives from what the step needs done or gone and what other steps make or drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, NamedTuple, Protocol

import psycopg
from psycopg import sql

from ..errors import SourceLocation
from ..model.keys import ObjectKey
from ..model.names import QualifiedName
from ..model.tables import Dependent, TableSize


class Action(StrEnum):
    """What a step does. Among steps of a phase with no edge between them, this order applies (then the subject):
    row-level security fails closed (below); extensions come before what may use them; the quick ACCESS EXCLUSIVE
    drops and renames of indexes come last, so that their locks, held until commit, are taken as late as possible.
    Edges override this order (a retirement that must precede a type change comes first).

    Failing closed: RLS is turned on (enabled, forced) before a table's policies are created or altered, and
    turned off (unforced, disabled) only after all of its policy steps, which an edge holds as well. So no step
    runs on a table whose flags are more open than both before and after the run. Turning RLS on waits for what
    the policies wait for (``plan.link_dependents``), so that its lock is not held through other tables' type
    changes. Policy drops still come early: a changed policy is dropped and then created, and one in the way of a
    type change must be gone before it. Other sessions never see any of this (one transaction, and every RLS step
    holds ACCESS EXCLUSIVE on its table until commit). The order is for what runs inside the transaction (the
    check that reads a table before a destroying step) and for ``plan --format sql``, a script a person may run
    by hand: cut short, it denies."""

    DROP_INVALID_INDEX = "drop-invalid-index"  # DROP INDEX CONCURRENTLY, before builds
    BUILD_INDEX = "build-index"  # CREATE INDEX CONCURRENTLY, before the transaction
    DROP_POLICY = "drop-policy"
    DROP_VIEW = "drop-view"
    DROP_FUNCTION = "drop-function"
    CREATE_EXTENSION = "create-extension"  # before the functions, views and types that may use it
    ALTER_EXTENSION = "alter-extension"
    ALTER_COLUMN_TYPE = "alter-column-type"
    CREATE_INDEX = "create-index"  # inside the transaction: the table is rewritten anyway, or a partitioned parent
    ATTACH_INDEX = "attach-index"  # a partition's index attached to its partitioned parent's
    CREATE_FUNCTION = "create-function"
    REPLACE_FUNCTION = "replace-function"
    CREATE_VIEW = "create-view"
    REPLACE_VIEW = "replace-view"
    ENABLE_RLS = "enable-rls"  # closes the table before its policies change (fail closed)
    FORCE_RLS = "force-rls"
    CREATE_POLICY = "create-policy"
    ALTER_POLICY = "alter-policy"
    UNFORCE_RLS = "no-force-rls"  # opens the table only after its policies changed (and an edge says so)
    DISABLE_RLS = "disable-rls"
    DROP_INDEX = "drop-index"
    RENAME_INDEX = "rename-index"
    SET_STORAGE = "set-storage"
    RESET_STORAGE = "reset-storage"
    SET_SETTING = "set-setting"
    RESET_SETTING = "reset-setting"
    SET_ROLE_SETTING = "set-role-setting"
    RESET_ROLE_SETTING = "reset-role-setting"
    RETIRE_TABLE = "retire-table"  # late: everything else that could still need the table has run
    RESTORE_TABLE = "restore-table"  # a rollback's: a retired table back from its verified dump
    RESTORE_VALUES = "restore-values"  # a rollback's: converted values back from the dump, by primary key
    DROP_EXTENSION = "drop-extension"
    REINDEX_INDEX = "reindex-index"  # upkeep, after the transaction
    VACUUM_TABLE = "vacuum-table"
    ANALYZE_TABLE = "analyze-table"


ACTION_ORDER = {action: position for position, action in enumerate(Action)}

# What an action does to its subject: removes it, or brings it to (a step towards) its desired form.
DROPPING = frozenset(
    {
        Action.DROP_INVALID_INDEX,
        Action.DROP_POLICY,
        Action.DROP_VIEW,
        Action.DROP_FUNCTION,
        Action.DROP_INDEX,
        Action.RESET_STORAGE,
        Action.RESET_SETTING,
        Action.RESET_ROLE_SETTING,
        Action.RETIRE_TABLE,
        Action.DROP_EXTENSION,
    }
)


class Phase(Enum):
    """Where a step runs; the apply carries out the phases in this order."""

    RESTORE = 0  # a rollback's tables replayed from their dumps, each in a transaction of its own
    PREPARE = 1  # non-transactional clean-up of INVALID leftovers
    BUILD = 2  # non-transactional concurrent index builds, one by one
    TRANSACTION = 3  # everything else, in one transaction under lock_timeout
    MAINTENANCE = 4  # upkeep (VACUUM, ANALYZE, REINDEX CONCURRENTLY): after the transaction, outside one


class Lock(StrEnum):
    """Table-level lock modes, weakest first (PostgreSQL's names)."""

    SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
    SHARE = "SHARE"
    ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
    NONE = "none"  # functions, settings: no table is locked


class Hazard(StrEnum):
    """The closed list of things a step can do to a running application."""

    TABLE_REWRITE = "table-rewrite"  # the whole table is copied under ACCESS EXCLUSIVE
    ACCESS_EXCLUSIVE_LOCK = "access-exclusive-lock"  # blocks reads and writes while held
    BLOCKS_WRITES = "blocks-writes"  # a non-concurrent index build holds SHARE: writes wait
    INDEX_DROPPED = "index-dropped"  # queries that used the index may become slow
    UNIQUE_MAY_FAIL = "unique-may-fail"  # existing duplicates make the build fail (and roll back)
    INDEX_REBUILD = "index-rebuild"  # a type change rebuilds indexes on the column under ACCESS EXCLUSIVE
    DATA_LOSS = "data-loss"  # rows or values are destroyed: backed up and verified first, --allow-destructive
    # Who may see or change rows: RLS disabled or unforced, a permissive policy added, a restrictive one dropped,
    # a policy's roles or command widened, restrictive made permissive (--allow-authz-widening).
    AUTHZ_WIDENING = "authz-widening"
    # A policy's USING or WITH CHECK changed, and not provably the same: it may widen (--allow-authz-widening).
    AUTHZ_CHANGED = "authz-changed"


HAZARD_HELP: dict[Hazard, str] = {
    Hazard.TABLE_REWRITE: "the table is rewritten under ACCESS EXCLUSIVE: reads and writes wait until commit",
    Hazard.ACCESS_EXCLUSIVE_LOCK: "takes ACCESS EXCLUSIVE briefly, under lock_timeout",
    Hazard.BLOCKS_WRITES: "index built inside the transaction: writes to the table wait for the build",
    Hazard.INDEX_DROPPED: "queries that used this index may become slower",
    Hazard.UNIQUE_MAY_FAIL: "fails, and the run rolls back, if the table holds duplicate values",
    Hazard.INDEX_REBUILD: "the type change rebuilds indexes on the column under ACCESS EXCLUSIVE, without rewriting"
    " the table",
    Hazard.DATA_LOSS: "destroys data: the rows are dumped and the dump verified first; needs --allow-destructive",
    Hazard.AUTHZ_WIDENING: "widens who can see or change rows of the table; needs --allow-authz-widening",
    Hazard.AUTHZ_CHANGED: "changes a policy's expression, which may let more rows through; needs"
    " --allow-authz-widening",
}

# Hazards that apply refuses unless an option allows them, and that option.
GATED: dict[Hazard, str] = {
    Hazard.DATA_LOSS: "--allow-destructive",
    Hazard.AUTHZ_WIDENING: "--allow-authz-widening",
    Hazard.AUTHZ_CHANGED: "--allow-authz-widening",
}


class Payload(Protocol):
    """What a step runs in place of its statement: given the database's URL, the cursor of the transaction when
    the step is one of the transaction's, and the longest a lock may be waited for when it runs in a session of
    its own."""

    def run(self, url: str, cur: psycopg.Cursor[Any] | None, lock_timeout: str) -> None: ...


class StepId(NamedTuple):
    """A step's identity: what it does, and to which object (the key carries the kind). A tuple underneath: the
    dependency graph hashes and compares ids some millions of times in a large plan, and a tuple does it in C."""

    action: Action
    subject: ObjectKey

    def __str__(self) -> str:
        return f"{self.action} {self.subject}"


@dataclass(frozen=True)
class Step:
    """One step of a plan."""

    action: Action
    subject: ObjectKey
    statement: sql.SQL | sql.Composed
    lock: Lock
    phase: Phase
    summary: str  # one line for people
    table: QualifiedName | None = None  # the table it locks or belongs to; None for functions, settings, ...
    location: SourceLocation | None = None  # where the desired files declare what this step is for
    rewrites: TableSize | None = None  # set when the step rewrites the table
    destroys: TableSize | None = None  # set when the step drops the table
    # The table whose rows are dumped, and the dump verified against them, before this step runs; and the
    # definitions of dependents the step drops with it (kept in the backup).
    dump: QualifiedName | None = None
    dump_definitions: tuple[Dependent, ...] = ()
    hazards: tuple[Hazard, ...] = ()
    after: tuple[StepId, ...] = ()  # hard edges: these steps must exist and run first
    needs_done: frozenset[ObjectKey] = frozenset()  # objects that must have their final form first
    needs_gone: frozenset[ObjectKey] = frozenset()  # objects that must be gone (dropped) first
    also_drops: frozenset[ObjectKey] = frozenset()  # objects that go with the subject (a retired table's)
    # Run right after the statement, in the same transaction, in order: pgstate's own record of what it set,
    # privileges and owner given back to an object that had to be dropped and created.
    followups: tuple[sql.SQL | sql.Composed, ...] = ()
    # For steps outside the transaction: the statement that removes what this step made, run when a later step
    # fails (the concurrent build's index, valid or left INVALID by the failure).
    undo: sql.SQL | sql.Composed | None = None
    # A step that makes its subject under another name (a replacement built beside the old index) makes nothing
    # final itself: the step that renames it does.
    makes_subject: bool = True
    # Work that is not one statement (a rollback's restore from a backup): run instead of ``statement``, which
    # then only shows what it does.
    payload: Payload | None = None
    # What plans print instead of ``statement``, when that holds a value no report may show (a secret setting's).
    shown: sql.SQL | sql.Composed | None = None

    @property
    def printed(self) -> sql.SQL | sql.Composed:
        return self.shown if self.shown is not None else self.statement

    @property
    def id(self) -> StepId:
        return StepId(self.action, self.subject)

    @property
    def kind(self) -> str:
        return self.subject.kind

    @property
    def target(self) -> str:
        return str(self.subject)

    @property
    def table_label(self) -> str:
        return str(self.table) if self.table is not None else ""

    @property
    def transactional(self) -> bool:
        return self.phase is Phase.TRANSACTION

    @property
    def drops(self) -> frozenset[ObjectKey]:
        own = frozenset({self.subject}) if self.action in DROPPING else frozenset()
        return own | self.also_drops

    @property
    def makes(self) -> frozenset[ObjectKey]:
        if self.action in DROPPING or not self.makes_subject:
            return frozenset()
        return frozenset({self.subject})
