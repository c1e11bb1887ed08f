"""Types as the server spells them: declared on one temporary table, read back with ``format_type``."""

from __future__ import annotations

from collections.abc import Mapping

import psycopg
from psycopg import sql

from ..errors import SourceLocation
from .session import Sandbox

TYPE_HINT = "write the type as PostgreSQL knows it, e.g. text, jsonb, varchar(320), numeric(6,2)"


def is_collatable(sandbox: Sandbox, type_name: str) -> bool:
    """Whether a canonical type (one canonical_types returned) takes a collation."""
    return bool(sandbox.facts.get("collatable", {}).get(type_name, False))


def canonical_types(sandbox: Sandbox, wanted: Mapping[str, SourceLocation]) -> dict[str, str]:
    """Each type as written -> as format_type prints it; one temporary table holds them all (types already
    known from earlier kinds or rounds are not asked again).

    When the server refuses the batch, each type is declared alone, in its own savepoint, to name them all.
    """
    known: dict[str, str] = sandbox.facts.setdefault("types", {})
    written = [text for text in wanted if text not in known]
    if not written:
        return {text: known[text] for text in wanted if text in known}
    try:
        with sandbox.cur.connection.transaction():
            known.update(zip(written, _declare(sandbox, "pgstate_types", written), strict=True))
    except (psycopg.Error, _NotOneType):
        for position, type_text in enumerate(written):
            try:
                with sandbox.cur.connection.transaction():
                    known[type_text] = _declare(sandbox, f"pgstate_type_{position}", [type_text])[0]
            except psycopg.Error as error:
                sandbox.problems.add(
                    f"unknown or malformed type {type_text!r}: {error.diag.message_primary}",
                    wanted[type_text],
                    TYPE_HINT,
                )
            except _NotOneType as error:
                sandbox.problems.add(f"{type_text!r} is not a single type: {error}", wanted[type_text], TYPE_HINT)
    return {text: known[text] for text in wanted if text in known}


class _NotOneType(Exception):
    pass


# A column declared with exactly a type: not null, no default, no constraint, the type's own collation.
_DECLARED = sql.SQL(
    "SELECT format_type(a.atttypid, a.atttypmod),"
    " a.attnotnull OR a.atthasdef OR a.attcollation <> t.typcollation, t.typcollation <> 0"
    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    " WHERE a.attrelid = {}::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)


def _declare(sandbox: Sandbox, table: str, types: list[str]) -> list[str]:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f"t{i}"), sql.SQL(t)) for i, t in enumerate(types)
    )
    sandbox.execute(sql.SQL("CREATE TEMP TABLE {} ({})").format(sql.Identifier("pg_temp", table), columns))
    relation = sql.Literal(f"pg_temp.{table}")
    rows = sandbox.rows(_DECLARED.format(relation))
    if len(rows) != len(types):  # a comma smuggled into a type would declare more columns
        raise _NotOneType("it declares more than one column")
    if any(extra for _, extra, _ in rows):
        raise _NotOneType("only a type may be written here (no COLLATE, NOT NULL, DEFAULT, ...)")
    constraints = sandbox.rows(
        sql.SQL("SELECT count(*) FROM pg_constraint WHERE conrelid = {}::regclass").format(relation)
    )
    if constraints and constraints[0][0]:
        raise _NotOneType("only a type may be written here (no constraint)")
    sandbox.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("pg_temp", table)))
    collatable: dict[str, bool] = sandbox.facts.setdefault("collatable", {})
    for printed, _, has_collation in rows:
        collatable[printed] = bool(has_collation)
    return [printed for printed, _, _ in rows]
