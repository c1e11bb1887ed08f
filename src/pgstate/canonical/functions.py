"""Desired functions as the catalog spells them: created in pg_temp inside the rolled-back transaction and read
back with the query that reads live ones (arguments, result type, settings as the server prints them)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg
from psycopg import sql

from ..ddl import function_spec_sql
from ..desired import FunctionSpec
from ..introspect import read_functions
from ..model import Function
from ..sqlexec import execute
from .session import NotASingleExpression, located


def deparse_function(cur: psycopg.Cursor[Any], spec: FunctionSpec) -> Function:
    """Created in pg_temp under its own name and read back with the query that reads live functions."""
    before = _temporary_oids(cur, spec.name.name)
    try:
        execute(cur, function_spec_sql(spec, sql.Identifier("pg_temp", spec.name.name)))
    except psycopg.Error as error:
        raise located(error, spec.location) from None
    oids = sorted(_temporary_oids(cur, spec.name.name) - before)
    found = [f for overloads in read_functions(cur, (), oids=oids).values() for f in overloads]
    # Arguments or a result type that close a parenthesis or comment the rest out could make the server build
    # something else than the document says: what was built must carry exactly the document's settings.
    if (
        len(found) != 1
        or found[0].body != spec.body
        or found[0].language != spec.language
        or found[0].volatility != spec.volatility
        or found[0].security_definer != spec.security_definer
        or (found[0].search_path is None) != (spec.search_path is None)
    ):
        raise NotASingleExpression(
            "the arguments or result type of this function are not a plain argument list and type", spec.location
        )
    return replace(found[0], schema=spec.name.schema, name=spec.name.name, location=spec.location)


def _temporary_oids(cur: psycopg.Cursor[Any], name: str) -> set[int]:
    execute(cur, sql.SQL("SELECT oid FROM pg_proc WHERE pronamespace = pg_my_temp_schema() AND proname = %s"), [name])
    return {int(row[0]) for row in cur.fetchall()}


def stand_in(cur: psycopg.Cursor[Any], spec: FunctionSpec, live: tuple[Function, ...]) -> None:
    """Create the desired function under its real name, inside the rolled-back transaction, when no live
    function has its argument types: policies and views that call it can then be deparsed as they will read
    once it exists. PostgreSQL never looks for functions in pg_temp, so the copy there cannot serve."""
    canonical = _argument_types(cur, spec)
    if any(function.argument_types == canonical for function in live):
        return  # calls resolve to the live function, which has the same signature
    try:
        execute(cur, function_spec_sql(spec, sql.Identifier(spec.name.schema, spec.name.name)))
    except psycopg.Error as error:
        raise located(error, spec.location) from None


def _argument_types(cur: psycopg.Cursor[Any], spec: FunctionSpec) -> str:
    execute(
        cur,
        sql.SQL(
            "SELECT oidvectortypes(proargtypes) FROM pg_proc WHERE pronamespace = pg_my_temp_schema()"
            " AND proname = %s ORDER BY oid DESC LIMIT 1"
        ),
        [spec.name.name],
    )
    return str((cur.fetchone() or ("",))[0])
