"""Types as the server spells them: declared on a temporary table, read back with ``format_type``."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from ..errors import SourceLocation
from ..sqlexec import execute
from .session import Problems

TYPE_HINT = "write the type as PostgreSQL knows it, e.g. text, jsonb, varchar(320), numeric(6,2)"


def canonical_types(cur: psycopg.Cursor[Any], wanted: dict[str, SourceLocation], problems: Problems) -> dict[str, str]:
    """Each type as written -> as format_type prints it; one temporary table holds them all.

    When the server refuses the batch, each type is declared alone, in its own savepoint, to name them all.
    """
    if not wanted:
        return {}
    written = list(wanted)
    try:
        with cur.connection.transaction():
            return dict(zip(written, _declare(cur, "pgstate_types", written), strict=True))
    except (psycopg.Error, _NotOneType):
        pass
    result: dict[str, str] = {}
    for position, type_text in enumerate(written):
        try:
            with cur.connection.transaction():
                result[type_text] = _declare(cur, f"pgstate_type_{position}", [type_text])[0]
        except psycopg.Error as error:
            problems.add(
                f"unknown or malformed type {type_text!r}: {error.diag.message_primary}", wanted[type_text], TYPE_HINT
            )
        except _NotOneType as error:
            problems.add(f"{type_text!r} is not a single type: {error}", wanted[type_text], TYPE_HINT)
    return result


class _NotOneType(Exception):
    pass


# A column declared with exactly a type: not null, no default, no constraint, the type's own collation.
_DECLARED = sql.SQL(
    "SELECT format_type(a.atttypid, a.atttypmod),"
    " a.attnotnull OR a.atthasdef OR a.attcollation <> t.typcollation"
    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    " WHERE a.attrelid = {}::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)


def _declare(cur: psycopg.Cursor[Any], table: str, types: list[str]) -> list[str]:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f"t{i}"), sql.SQL(t)) for i, t in enumerate(types)
    )
    execute(cur, sql.SQL("CREATE TEMP TABLE {} ({})").format(sql.Identifier(table), columns))
    relation = sql.Literal(f"pg_temp.{table}")
    execute(cur, _DECLARED.format(relation))
    rows = cur.fetchall()
    if len(rows) != len(types):  # a comma smuggled into a type would declare more columns
        raise _NotOneType("it declares more than one column")
    if any(extra for _, extra in rows):
        raise _NotOneType("only a type may be written here (no COLLATE, NOT NULL, DEFAULT, ...)")
    execute(cur, sql.SQL("SELECT count(*) FROM pg_constraint WHERE conrelid = {}::regclass").format(relation))
    if (cur.fetchone() or (0,))[0]:
        raise _NotOneType("only a type may be written here (no constraint)")
    return [printed for printed, _ in rows]
