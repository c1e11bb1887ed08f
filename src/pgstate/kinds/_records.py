"""pgstate's own record of what it set (``pgstate.managed_settings``): only those are reset when the desired
files stop declaring them, never someone else's. Written in the same transaction as the change itself."""

from __future__ import annotations

from psycopg import sql


def record_set(kind: str, obj: str, name: str, value: str) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO pgstate.managed_settings (scope, object, name, value) VALUES ({}, {}, {}, {})"
        " ON CONFLICT (scope, object, name) DO UPDATE SET value = excluded.value"
    ).format(sql.Literal(kind), sql.Literal(obj), sql.Literal(name), sql.Literal(value))


def record_reset(kind: str, obj: str, name: str) -> sql.Composed:
    return sql.SQL("DELETE FROM pgstate.managed_settings WHERE scope = {} AND object = {} AND name = {}").format(
        sql.Literal(kind), sql.Literal(obj), sql.Literal(name)
    )


def dotted_name(name: str) -> sql.Composable:
    """A qualified parameter name (``toast.autovacuum_enabled``, ``pg_stat_statements.track``): each part an
    identifier."""
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))
