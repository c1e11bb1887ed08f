"""Desired views as the server deparses them: created as temporary views inside the rolled-back transaction and
read back with ``pg_get_viewdef`` and their columns, by the query that reads live ones."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg
from psycopg import sql

from ..desired import ViewSpec
from ..introspect import read_views
from ..model import View
from ..sqlexec import execute
from .session import located


def deparse_view(cur: psycopg.Cursor[Any], spec: ViewSpec, number: int) -> View:
    name = f"pgstate_view_{number}"
    try:
        execute(cur, sql.SQL("CREATE TEMP VIEW {} AS {}").format(sql.Identifier(name), sql.SQL(spec.query)))
    except psycopg.Error as error:
        raise located(error, spec.location) from None
    execute(cur, sql.SQL("SELECT {}::regclass::oid").format(sql.Literal(f"pg_temp.{name}")))
    oid = int((cur.fetchone() or (0,))[0])
    (found,) = read_views(cur, (), oids=[oid]).values()
    return replace(found, name=spec.name, location=spec.location)
