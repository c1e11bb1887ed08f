"""Desired policies as the server prints them: created on an empty temporary copy of their table (with the
desired column types), in the rolled-back transaction, and read back with the query that reads live ones, under
the same session and search_path, so ``auth.uid()``, the real roles and extension types resolve exactly."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg
from psycopg import sql

from ..ddl import alter_type_sql, create_policy_sql
from ..desired import ColumnSpec, PolicySpec, TableSpec
from ..introspect import read_columns, read_policies
from ..model import Policy
from ..sqlexec import execute
from .session import NotASingleExpression, check_single_expression, located


def deparse_policies(
    cur: psycopg.Cursor[Any], spec: TableSpec, changing: list[tuple[ColumnSpec, str]]
) -> tuple[Policy, ...]:
    """The spec's policies, spelled by the server. ``changing``: the desired type changes to apply first."""
    assert spec.policies is not None
    # Named as the table: the deparser qualifies the table's columns with its name inside subqueries. pg_temp is
    # put last on the search_path meanwhile, so that the copy does not hide the real table from a policy's
    # subqueries (which then print as they do on the live table).
    execute(cur, sql.SQL("SELECT set_config('search_path', current_setting('search_path') || ', pg_temp', true)"))
    copy = sql.Identifier("pg_temp", spec.name.name)
    execute(cur, sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(copy, spec.name.identifier()))
    execute(
        cur,
        sql.SQL("SELECT oid FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relname = %s"),
        [spec.name.name],
    )
    copy_oid = int((cur.fetchone() or (0,))[0])
    for column, type_name in changing:
        execute(cur, alter_type_sql(copy, column.name, type_name, column.using))
    for policy in spec.policies:
        _check_fragments(cur, policy, copy)
        try:
            execute(cur, create_policy_sql(policy, copy))
        except psycopg.Error as error:
            raise located(error, policy.location) from None
    _, attributes = read_columns(cur, [copy_oid])
    built = read_policies(cur, {copy_oid: spec.name}, attributes).get(copy_oid, {})
    execute(cur, sql.SQL("DROP TABLE {}").format(copy))
    execute(cur, sql.SQL("SELECT set_config('search_path', %s, true)"), [_without_pg_temp(cur)])
    policies = []
    for policy in spec.policies:
        found = built.get(policy.name)
        if (
            found is None
            or len(built) != len(spec.policies)
            or (found.using is None) != (policy.using is None)
            or (found.with_check is None) != (policy.with_check is None)
        ):
            raise NotASingleExpression("an expression of this policy is not a single expression", policy.location)
        # Dependencies on the copy's columns are the table's; its name in `functions` is as live ones read.
        policies.append(
            replace(found, location=policy.location, using_source=policy.using, with_check_source=policy.with_check)
        )
    return tuple(policies)


def _check_fragments(cur: psycopg.Cursor[Any], policy: PolicySpec, copy: sql.Composable) -> None:
    if policy.using is not None:
        check_single_expression(cur, policy.using, copy, policy.using_location)
    if policy.with_check is not None:
        check_single_expression(cur, policy.with_check, copy, policy.with_check_location)


def _without_pg_temp(cur: psycopg.Cursor[Any]) -> str:
    execute(cur, sql.SQL("SELECT current_setting('search_path')"))
    value = str((cur.fetchone() or ("",))[0])
    return value.removesuffix(", pg_temp")
