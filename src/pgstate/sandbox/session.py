"""The sandbox: one transaction that is always rolled back, in which the server parses and deparses desired
fragments on empty temporary objects, and how its refusals are reported.

Every statement runs in the extended query protocol, where the server accepts exactly one statement; every
fragment must also stand alone as one expression, and what is built from it must have the shape the spec asked
for. A fragment that is not a single expression is refused and never reaches the live tables.

The transaction starts only when a kind first needs the server (a no-op plan whose fragments all match the live
spelling never opens it). Managed tables are worked on in rounds, each in a savepoint that is rolled back at its
end: temporary copies are named as their tables (so that the server names and prints things as it will on the
real ones), and two tables of one name in different schemas go to different rounds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ..db.sqlexec import execute
from ..errors import InvalidDesiredState, PgstateError, SourceLocation
from ..model.state import LiveState
from .cache import CanonicalCache

# Fragments are parsed on empty temporary objects: nothing here should take long.
STATEMENT_TIMEOUT = "30s"
SINGLE_EXPRESSION_HINT = "write one SQL expression, without ';', comments or extra clauses"


@dataclass
class Problems:
    """Every fragment the server refused, each located in its file, once: a kind that asks before the rounds
    (its prefetch) and again in them meets the same refusal twice."""

    items: list[PgstateError] = field(default_factory=list)
    seen: set[tuple[str, SourceLocation, str | None]] = field(default_factory=set)

    def add(self, message: str, location: SourceLocation, hint: str | None = None) -> None:
        if (message, location, hint) not in self.seen:
            self.seen.add((message, location, hint))
            self.items.append(PgstateError(message, location=location, hint=hint))

    def sorted(self) -> list[PgstateError]:
        return sorted(self.items, key=_location_order)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidDesiredState(self.sorted())


def _location_order(problem: PgstateError) -> tuple[str, int, int]:
    loc = problem.location
    return (loc.file, loc.line, loc.column) if loc else ("", 0, 0)


class SandboxUnavailable(PgstateError):
    """The desired state has fragments only the server can compare (a type, a function body, a view's query, an
    expression), and this session cannot create the temporary objects that takes."""

    def __init__(self, standby: bool):
        where = "a hot standby" if standby else "a read-only session"
        super().__init__(
            f"this database is {where}: pgstate cannot have the server parse the desired state's types,"
            " expressions and bodies here (that needs temporary objects, which a standby or read-only transaction"
            " refuses), and the primary's cache does not know them",
            hint="plan against the primary once with write access (apply and plan fill the cache a standby reads),"
            ' or give the target its primary in pgstate.toml (primary = "NAME") so that pgstate parses there',
        )


class NotASingleExpression(Exception):
    def __init__(self, message: str, location: SourceLocation):
        super().__init__(message)
        self.message = message
        self.location = location


def located(error: psycopg.Error, location: SourceLocation) -> psycopg.Error:
    """Remember which fragment a server error is about, for the message."""
    error.pgstate_location = location  # type: ignore[attr-defined]
    return error


def server_message(error: psycopg.Error) -> str:
    return error.diag.message_primary or str(error).splitlines()[0]


class Sandbox:
    """The rolled-back transaction, opened on first use; what kinds canonicalised so far; the live state."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        live: LiveState,
        lock_timeout: str,
        *,
        sources: Any = None,
        elsewhere: bool = False,
    ):
        # ``elsewhere``: ``conn`` is not the live database's but its primary's (plan on a hot standby): the same
        # catalog, oids included, since a standby replays its primary's WAL, in a server that can create things.
        self.conn = conn
        self.elsewhere = elsewhere
        # what kinds look up before they ask the server; ``sources``: what else the sandbox is given to parse in
        self.cache = CanonicalCache(conn, live.server, sources)
        self.live = live
        self.lock_timeout = lock_timeout
        self.problems = Problems()
        self.desired: dict[str, Any] = {}  # kind name -> Desired, as kinds finish
        self.facts: dict[str, Any] = {}  # what one kind tells others (the desired column types of each table)
        self._stack: ExitStack | None = None
        self._cursor: psycopg.Cursor[Any] | None = None
        self.round: Round | None = None

    # --- the transaction -------------------------------------------------------------------------------------

    @property
    def cur(self) -> psycopg.Cursor[Any]:
        if self._cursor is None:
            if not (self.elsewhere or self.live.server.writable):
                raise SandboxUnavailable(self.live.server.in_recovery)
            stack = ExitStack()
            stack.enter_context(self.conn.transaction(force_rollback=True))
            cursor = stack.enter_context(self.conn.cursor())
            self._stack, self._cursor = stack, cursor
            execute(cursor, sql.SQL("SELECT set_config('statement_timeout', %s, true)"), [STATEMENT_TIMEOUT])
            execute(cursor, sql.SQL("SELECT set_config('lock_timeout', %s, true)"), [self.lock_timeout])
            # pg_temp last: a temporary copy named as its table must not hide the real table from a policy's
            # subqueries (which then print as they do on the live table); temporary objects are always named
            # with their schema here.
            execute(
                cursor,
                sql.SQL("SELECT set_config('search_path', current_setting('search_path') || ', pg_temp', true)"),
            )
        if self.round is not None and self.round.savepoint is None:
            savepoint = self.conn.transaction()
            self.round.transaction = savepoint.__enter__()
            self.round.savepoint = savepoint
        return self._cursor

    @property
    def opened(self) -> bool:
        return self._cursor is not None

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack = self._cursor = None

    def execute(self, statement: sql.SQL | sql.Composed, params: Sequence[Any] | None = None) -> None:
        execute(self.cur, statement, params)

    def rows(
        self, statement: sql.SQL | sql.Composed, params: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> list[Any]:
        self.cur.execute(statement, params, binary=True)
        return self.cur.fetchall()

    def catalog_rows(self, statement: sql.SQL | sql.Composed, params: Mapping[str, Any] | None = None) -> list[Any]:
        """A read of the live catalog that needs no temporary object: in the sandbox's transaction when it is
        open, else on its own, so that a session that cannot create anything (a standby) can still ask."""
        if self.opened:
            return self.rows(statement, params)
        with self.conn.cursor() as cur:
            cur.execute(statement, params, binary=True)
            return cur.fetchall()

    # --- rounds ----------------------------------------------------------------------------------------------

    @contextmanager
    def in_round(self, number: int) -> Iterator[Round]:
        """One round of tables, in a savepoint (opened when the round first needs the server) that is rolled
        back at its end: the round's temporary objects go, and so do the locks they took."""
        self.round = Round(number)
        try:
            yield self.round
        finally:
            savepoint, transaction, self.round = self.round.savepoint, self.round.transaction, None
            if savepoint is not None:
                savepoint.__exit__(psycopg.Rollback, psycopg.Rollback(transaction), None)

    # --- refusals --------------------------------------------------------------------------------------------

    @contextmanager
    def collect(self, location: SourceLocation) -> Iterator[None]:
        """Run the block in a savepoint; a refusal becomes a problem located at ``location`` (or where the
        failing fragment was written) and the block's work is undone. A lost connection is no refusal: it goes
        on as it came, and so does a savepoint that could not be opened (the block never ran: a context manager
        that swallowed that would have nothing to yield), and so does a lock wait that outlasted lock_timeout."""
        entered = False
        copies = set(self.round.copies) if self.round is not None else set()
        try:
            with self.cur.connection.transaction():
                entered = True
                yield
        except psycopg.Error as error:
            self._forget_copies_since(copies)
            # A lock another session holds is no refusal of the fragment either: it stops the whole
            # canonicalisation (pipeline.canonicalize names the holder), as it stops the catalog read.
            lost = self.cur.connection.broken or self.cur.connection.closed
            if not entered or lost or isinstance(error, psycopg.errors.LockNotAvailable):
                raise
            self._refused(error, location)
        except NotASingleExpression as refused:
            self._forget_copies_since(copies)
            self.problems.add(refused.message, refused.location, SINGLE_EXPRESSION_HINT)

    def _forget_copies_since(self, kept: set[Any]) -> None:
        """The copies made in a savepoint that was rolled back are gone: a later kind must make them again, not
        use a table that no longer exists (``schema "pg_temp" does not exist``, reported at its own spec)."""
        if self.round is not None:
            for table in set(self.round.copies) - kept:
                del self.round.copies[table]

    def _refused(self, error: psycopg.Error, location: SourceLocation) -> None:
        where = getattr(error, "pgstate_location", None) or location
        if isinstance(error, psycopg.errors.SyntaxError):
            self.problems.add(f"not a single SQL expression: {server_message(error)}", where, SINGLE_EXPRESSION_HINT)
        else:
            self.problems.add(f"PostgreSQL refused this: {server_message(error)}", where)

    def check_single_expression(self, fragment: str, relation: sql.Composable, location: SourceLocation) -> None:
        """The fragment must stand alone as the one column of a SELECT over ``relation``.

        Inside a statement a fragment sits in parentheses and could close them to add clauses, keys or
        sub-commands whose effect the statement's result may not show; no text escapes both that statement and
        this SELECT at once. The extended protocol (db.sqlexec.execute) refuses a second statement in either.
        Called inside ``collect``, whose savepoint a refusal rolls back: no savepoint of its own (two round trips
        per fragment).
        """
        try:
            self.execute(single_expression_sql(fragment, relation))
            columns = len(self.cur.description or ())
        except psycopg.Error as error:
            raise located(error, location) from None
        if columns != 1:
            raise NotASingleExpression(f"{fragment!r} is not a single expression", location)

    def run_located(self, statement: sql.SQL | sql.Composed, location: SourceLocation) -> None:
        """Run a statement built from desired fragments; a refusal is located at ``location``."""
        try:
            self.execute(statement)
        except psycopg.Error as error:
            raise located(error, location) from None


def single_expression_sql(fragment: str, relation: sql.Composable) -> sql.Composed:
    """The SELECT whose result has one column exactly when the fragment stands alone as one expression."""
    return sql.SQL("SELECT ({}) FROM {} LIMIT 0").format(sql.SQL(fragment), relation)


@dataclass
class Round:
    """One round of tables: the temporary copies made in it (table -> copy), and its savepoint once opened."""

    number: int
    copies: dict[Any, Any] = field(default_factory=dict)
    savepoint: AbstractContextManager[psycopg.Transaction] | None = None
    transaction: psycopg.Transaction | None = None
