"""Desired functions as the catalog spells them: created in pg_temp inside the sandbox and read back with the
query that reads live ones; a stand-in under the real name where policies and views must call a new one."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ...sandbox.session import NotASingleExpression, Sandbox, located
from .ddl import function_spec_sql, placeholder_sql
from .model import Function, FunctionSpec


def _create_in_temp(sandbox: Sandbox, spec: FunctionSpec) -> int:
    """Created in pg_temp under its own name; its oid (the one the server just made)."""
    before = _temporary_oids(sandbox, spec.name.name)
    statement = function_spec_sql if spec.present else placeholder_sql
    try:
        sandbox.execute(statement(spec, sql.Identifier("pg_temp", spec.name.name)))
    except psycopg.Error as error:
        raise located(error, spec.location) from None
    new = sorted(_temporary_oids(sandbox, spec.name.name) - before)
    if len(new) != 1:
        raise NotASingleExpression(
            "the arguments or result of this function are not one argument list and type", spec.location
        )
    return new[0]


def _temporary_oids(sandbox: Sandbox, name: str) -> set[int]:
    rows = sandbox.rows(
        sql.SQL("SELECT oid FROM pg_proc WHERE pronamespace = pg_my_temp_schema() AND proname = %s"), [name]
    )
    return {int(row[0]) for row in rows}


def _check_shape(spec: FunctionSpec, found: Function) -> None:
    """Arguments or a result type that close a parenthesis or comment the rest out could make the server build
    something else than the document says: what was built must carry exactly the document's attributes."""
    if (
        (spec.body is not None and found.body != spec.body)
        or (spec.sql_body is not None and found.sql_body is None)
        or found.language != spec.language
        or found.volatility != spec.volatility
        or found.security_definer != spec.security_definer
        or found.strict != spec.strict
        or found.leakproof != spec.leakproof
        or found.parallel != spec.parallel
        or (found.search_path is None) != (spec.search_path is None)
        or len(found.settings) != len(spec.settings)
    ):
        raise NotASingleExpression(
            "the arguments or result type of this function are not a plain argument list and type", spec.location
        )


def _stand_in(sandbox: Sandbox, spec: FunctionSpec, function: Function, live: list[Function]) -> None:
    """Create the desired function under its real name, inside the sandbox, when no live function has its
    argument types: policies and views that call it can then be deparsed as they will read once it exists.
    PostgreSQL never looks for functions in pg_temp, so the copy there cannot serve."""
    if any(current.argument_types == function.argument_types for current in live):
        return  # calls resolve to the live function, which has the same signature
    try:
        sandbox.execute(function_spec_sql(spec, sql.Identifier(spec.name.schema, spec.name.name)))
    except psycopg.Error as error:
        raise located(error, spec.location) from None
