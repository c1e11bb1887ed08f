"""Reading the catalog inside the snapshot: the shared facts of the managed tables, and what kinds ask for."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg

from ..model.names import QualifiedName
from ..model.state import ServerFacts
from ..model.tables import ColumnFacts, TableFacts, TableSize
from ..model.texts import shared_rows
from ..units import SettingInfo
from . import query


class Reader:
    """The cursor of the snapshot transaction, with the facts every kind shares read once."""

    def __init__(
        self,
        cur: psycopg.Cursor[Any],
        server: ServerFacts,
        tables: Mapping[QualifiedName, TableFacts],
        *,
        everything: bool = False,
        documents: frozenset[str] = frozenset(),
    ):
        self.cur = cur
        self.server = server
        self.tables = tables
        # Export reads everything of the named objects, declared or not (an adopting repository has no specs).
        self.everything = everything
        self.documents = documents  # the document kinds the desired state has (table, database, role, ...)
        self.oids = {table.oid: name for name, table in tables.items()}

    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows of the catalog query ``catalog/<name>.sql``."""
        self.cur.execute(query(name), params or {})
        return shared_rows(self.cur.fetchall())

    def table(self, name: QualifiedName) -> TableFacts | None:
        return self.tables.get(name)

    @functools.cached_property
    def settings_catalog(self) -> dict[str, SettingInfo]:
        """pg_settings: every setting the server knows, with its unit and type (read once, when a kind asks)."""
        return {
            row[0]: SettingInfo(row[0], row[1], row[2], row[3], row[4], tuple(row[5])) for row in self.rows("settings")
        }

    def exporting(self, document: str) -> bool:
        """Whether export asked for everything of a document kind (the database's settings, a role's)."""
        return self.everything and document in self.documents

    def managed_by(self, kind: str) -> bool:
        """Whether pgstate recorded setting anything of this kind (which it may have to reset)."""
        return any(record[0] == kind for record in self.managed)

    @functools.cached_property
    def managed(self) -> dict[tuple[str, str, str], str]:
        """What pgstate set, (kind, object, name) -> value; empty before the first apply."""
        if not self.server.has_records:
            return {}
        # Records of pgstate 0.1 name the scope (database, table) rather than the kind.
        renamed = {"database": "setting", "table": "storage"}
        return {(renamed.get(scope, scope), obj, name): value for scope, obj, name, value in self.rows("managed")}


def read_server(cur: psycopg.Cursor[Any]) -> ServerFacts:
    cur.execute(query("server"))
    row = cur.fetchone()
    if row is None:
        return ServerFacts(0, "", "")
    version, search_path, database, user, has_records, max_locks, generation, parse_settings, writable = row[:9]
    in_recovery, read_only = row[9:]
    return ServerFacts(
        int(version),
        str(search_path),
        str(database),
        str(user),
        bool(has_records),
        int(max_locks),
        None if generation is None else str(generation),
        bool(writable),
        str(parse_settings),
        bool(in_recovery),
        bool(read_only),
    )


def read_tables(cur: psycopg.Cursor[Any], names: Iterable[QualifiedName]) -> dict[QualifiedName, TableFacts]:
    """The named tables that exist, with their columns: two queries, whatever their number."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    cur.execute(query("tables"), {"schemas": [t.schema for t in wanted], "names": [t.name for t in wanted]})
    rows = shared_rows(cur.fetchall())
    columns = read_columns(cur, [row[0] for row in rows])
    found = {}
    for oid, schema, name, rows_, size, enabled, forced, partitioned, p_schema, p_name, partitions, owner in rows:
        by_attnum = columns.get(oid, {})
        children = [tuple(part) for part in partitions or ()]
        found[QualifiedName(schema, name)] = TableFacts(
            name=QualifiedName(schema, name),
            oid=int(oid),
            size=TableSize(int(rows_), int(size)),
            columns={column.name: column for column in by_attnum.values()},
            partitioned=bool(partitioned),
            partition_of=QualifiedName(p_schema, p_name) if p_name is not None else None,
            partitions=tuple(QualifiedName(s, n) for s, n, sub in children if sub != "true"),
            subpartitioned=tuple(QualifiedName(s, n) for s, n, sub in children if sub == "true"),
            rls_enabled=bool(enabled),
            rls_forced=bool(forced),
            owner=str(owner),
            by_attnum=by_attnum,
        )
    return found


def read_columns(cur: psycopg.Cursor[Any], oids: list[int]) -> dict[int, dict[int, ColumnFacts]]:
    """The columns of the relations with the given oids: oid -> attnum -> column (what index keys refer to)."""
    cur.execute(query("columns"), {"oids": oids})
    return columns_from_rows(shared_rows(cur.fetchall()))


def columns_from_rows(rows: Iterable[Sequence[Any]]) -> dict[int, dict[int, ColumnFacts]]:
    """The columns in rows of the ``columns`` query (read here, or by the sandbox's batch as JSON)."""
    columns: dict[int, dict[int, ColumnFacts]] = {}
    for table_oid, attnum, name, type_name, collation, collation_oid, inherited in rows:
        columns.setdefault(int(table_oid), {})[int(attnum)] = ColumnFacts(  # the batch: oids as JSON strings
            name, int(attnum), type_name, collation, int(collation_oid), bool(inherited)
        )
    return columns
