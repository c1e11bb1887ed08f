"""The rolled-back transaction in which the server parses desired fragments, and how its refusals are reported."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ..errors import PgstateError, SourceLocation
from ..sqlexec import execute

# Fragments are parsed on empty temporary objects: nothing here should take long.
STATEMENT_TIMEOUT = "30s"
SINGLE_EXPRESSION_HINT = "write one SQL expression, without ';', comments or extra clauses"


@dataclass
class Problems:
    """Every fragment the server refused, each located in its file."""

    items: list[PgstateError] = field(default_factory=list)

    def add(self, message: str, location: SourceLocation, hint: str | None = None) -> None:
        self.items.append(PgstateError(message, location=location, hint=hint))

    def sorted(self) -> list[PgstateError]:
        return sorted(self.items, key=_location_order)

    @contextmanager
    def collect(self, cur: psycopg.Cursor[Any], location: SourceLocation) -> Iterator[None]:
        """Run the block in a savepoint; a refusal becomes a problem located at ``location`` (or where the
        failing fragment was written) and the block's work is undone."""
        try:
            with cur.connection.transaction():
                yield
        except NotASingleExpression as refused:
            self.add(refused.message, refused.location, SINGLE_EXPRESSION_HINT)
        except psycopg.errors.SyntaxError as error:
            where = getattr(error, "pgstate_location", None) or location
            self.add(f"not a single SQL expression: {server_message(error)}", where, SINGLE_EXPRESSION_HINT)
        except psycopg.Error as error:
            where = getattr(error, "pgstate_location", None) or location
            self.add(f"PostgreSQL refused this: {server_message(error)}", where)


def _location_order(problem: PgstateError) -> tuple[str, int, int]:
    loc = problem.location
    return (loc.file, loc.line, loc.column) if loc else ("", 0, 0)


class NotASingleExpression(Exception):
    def __init__(self, message: str, location: SourceLocation):
        super().__init__(message)
        self.message = message
        self.location = location


@contextmanager
def rolled_back(conn: psycopg.Connection[Any], lock_timeout: str) -> Iterator[psycopg.Cursor[Any]]:
    """A transaction that never commits: nothing done here can reach the database."""
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        execute(cur, sql.SQL("SELECT set_config('statement_timeout', %s, true)"), [STATEMENT_TIMEOUT])
        execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, true)"), [lock_timeout])
        yield cur


def located(error: psycopg.Error, location: SourceLocation) -> psycopg.Error:
    """Remember which fragment a server error is about, for the message."""
    error.pgstate_location = location  # type: ignore[attr-defined]
    return error


def check_single_expression(
    cur: psycopg.Cursor[Any], fragment: str, relation: sql.Composable, location: SourceLocation
) -> None:
    """The fragment must stand alone as the one column of a SELECT over ``relation``.

    Inside a statement a fragment sits in parentheses and could close them to add clauses, keys or
    sub-commands whose effect the statement's result may not show; no text escapes both that statement and
    this SELECT at once. The extended protocol (sqlexec.execute) refuses a second statement in either.
    """
    try:
        with cur.connection.transaction():
            execute(cur, sql.SQL("SELECT ({}) FROM {} LIMIT 0").format(sql.SQL(fragment), relation))
            columns = len(cur.description or ())
    except psycopg.Error as error:
        raise located(error, location) from None
    if columns != 1:
        raise NotASingleExpression(f"{fragment!r} is not a single expression", location)


def server_message(error: psycopg.Error) -> str:
    return error.diag.message_primary or str(error).splitlines()[0]
