"""Empty temporary copies of managed tables, with the desired column types, on which desired indexes, policies
and storage parameters are created and read back.

The copy is named as its table (in ``pg_temp``), so the server chooses index names and prints policy expressions
as it will on the real table. Its columns get the desired types first, each ``ALTER ... TYPE`` showing whether it
rewrites the table (the copy's relfilenode changes). A copy is made the first time a kind asks for it in a round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..catalog.reader import read_columns
from ..errors import SourceLocation
from ..model.names import QualifiedName
from ..model.tables import ColumnFacts
from .batch import TableWork, batchable, run_batch
from .session import Sandbox, located, single_expression_sql


@dataclass(frozen=True)
class ColumnChange:
    """A desired type (and collation) of a column, as the server spells them, and how values convert."""

    column: str
    type: str
    collation: str | None  # quoted as the catalog prints it; None: the type's default
    using: str | None
    location: SourceLocation


@dataclass
class Copy:
    table: QualifiedName
    oid: int
    identifier: sql.Identifier
    rewrites: dict[str, bool] = field(default_factory=dict)  # column -> its type change rewrites the table


def alter_type_sql(table: sql.Composable, change: ColumnChange) -> sql.Composed:
    """ALTER ... TYPE [COLLATE] with USING; without one, the column is cast to the new type (``"c"::type``)."""
    new_type = sql.SQL(change.type)  # as format_type printed it
    collate = sql.SQL(" COLLATE {}").format(sql.SQL(change.collation)) if change.collation else sql.SQL("")
    conversion = (
        sql.SQL(change.using)  # parsed by the server, alone and on an empty copy, before it gets here
        if change.using is not None
        else sql.SQL("{}::{}").format(sql.Identifier(change.column), new_type)
    )
    return sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {}{} USING ({})").format(
        table, sql.Identifier(change.column), new_type, collate, conversion
    )


# The fact the column kind leaves before the rounds: the tables some column spec of which is not written as the
# live column prints (their types may change, and their copies are made statement by statement).
RETYPED_TABLES = "tables whose column types may change"


def may_retype(sandbox: Sandbox, table: QualifiedName) -> bool:
    """Whether the table's column types may change (True when the column kind has not said: the safe side)."""
    retyped: frozenset[QualifiedName] | None = sandbox.facts.get(RETYPED_TABLES)
    return retyped is None or table in retyped


# The fact kinds' prefetch leaves: the tables that will still need the server in the rounds (their copies made
# statement by statement). The rounds put them together, so that those rounds' savepoints and readbacks are few.
ROUND_TABLES = "tables the rounds work on"


def needs_rounds(sandbox: Sandbox, tables: Iterable[QualifiedName]) -> None:
    """Say, in a kind's prefetch, that these tables will need the server in their rounds."""
    found: set[QualifiedName] = sandbox.facts.setdefault(ROUND_TABLES, set())
    found.update(tables)


# The fact the column kind's prefetch leaves: table -> {column: whether its type change rewrites the table}, for
# the tables whose type changes the batch made on a copy. The other kinds' batches make the same changes first on
# those tables' copies; a retyped table missing here (a refusal, a ``;`` in a USING) is done in the rounds.
RETYPED_IN_BATCH = "type changes made in the batch"


def retype_in_batch(
    sandbox: Sandbox,
    changes: Mapping[QualifiedName, Sequence[ColumnChange]],
    rounds: Sequence[frozenset[QualifiedName]],
) -> dict[QualifiedName, dict[str, bool]]:
    """Make the type changes of many tables on their copies in one call (the rounds are its chunks), noting the
    copy's relfilenode before and after each: which changes rewrite the table. Records RETYPED_IN_BATCH."""
    chunks: list[list[TableWork]] = [[] for _ in rounds]
    for number, tables in enumerate(rounds):
        for table in sorted(tables):
            table_changes = changes.get(table)
            if table_changes and all(batchable(change.using) for change in table_changes):
                work = TableWork(table)
                add_copy_steps(work, table_changes, measure=True)
                chunks[number].append(work)
    proved: dict[QualifiedName, dict[str, bool]] = sandbox.facts.setdefault(RETYPED_IN_BATCH, {})
    for result in run_batch(sandbox, [chunk for chunk in chunks if chunk], []):
        for table, notes in result.notes.items():
            filenodes = [rows[0][0] for rows in notes]
            proved[table] = {
                change.column: filenodes[position + 1] != filenodes[position]
                for position, change in enumerate(changes[table])
            }
    return proved


def add_copy_steps(work: TableWork, changes: Sequence[ColumnChange], *, measure: bool = False) -> None:
    """The steps that make a table's copy (``pg_temp.<its name>``) with the desired column types, as copy_of does
    in the rounds. ``measure`` (retype_in_batch): each USING checked as a single expression and the copy's
    relfilenode noted around each change; without it, for changes that batch already made."""
    copy = sql.Identifier("pg_temp", work.table.name)
    work.run(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(copy, work.table.identifier()))
    filenode = sql.SQL(
        "SELECT relfilenode FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relname = {}"
    ).format(sql.Literal(work.table.name))
    if measure:
        work.note(filenode)
    for change in changes:
        if measure and change.using is not None:
            work.check(single_expression_sql(change.using, copy))
        work.run(alter_type_sql(copy, change))
        if measure:
            work.note(filenode)


def column_changes(sandbox: Sandbox, table: QualifiedName) -> list[ColumnChange]:
    """The desired type changes of a table's columns, as the column kind canonicalised them."""
    changes: Mapping[QualifiedName, list[ColumnChange]] = sandbox.facts.get("column_changes", {})
    return changes.get(table, [])


def copy_of(sandbox: Sandbox, table: QualifiedName) -> Copy:
    """The round's copy of ``table`` with the desired column types, made on first use."""
    assert sandbox.round is not None, "copies are made in rounds"
    found: Copy | None = sandbox.round.copies.get(table)
    if found is not None:
        return found
    identifier = sql.Identifier("pg_temp", table.name)
    sandbox.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(identifier, table.identifier()))
    oid, filenode = _oid_and_filenode(sandbox, table.name)
    copy = Copy(table, oid, identifier)
    for change in column_changes(sandbox, table):
        if change.using is not None:
            sandbox.check_single_expression(change.using, identifier, change.location)
        try:
            sandbox.execute(alter_type_sql(identifier, change))
        except psycopg.Error as error:
            raise located(error, change.location) from None
        _, new_filenode = _oid_and_filenode(sandbox, table.name)
        copy.rewrites[change.column] = new_filenode != filenode
        filenode = new_filenode
    sandbox.round.copies[table] = copy
    return copy


def copy_columns(sandbox: Sandbox, copies: Iterable[Copy]) -> dict[int, dict[int, ColumnFacts]]:
    """The columns of the copies, by oid and attribute number: one query for all of them."""
    return read_columns(sandbox.cur, [copy.oid for copy in copies])


def _oid_and_filenode(sandbox: Sandbox, name: str) -> tuple[int, int]:
    rows = sandbox.rows(
        sql.SQL("SELECT oid, relfilenode FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relname = %s"),
        [name],
    )
    assert rows, "the temporary copy was just created"
    return int(rows[0][0]), int(rows[0][1])
