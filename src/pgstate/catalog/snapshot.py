"""The live state: every catalog read of a command in one REPEATABLE READ READ ONLY transaction, so that all
kinds see the same moment, with a fixed number of queries whatever the number of tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from ..db.patience import DEFAULT_RETRIES, Result, with_retries
from ..errors import PgstateError
from ..kinds import all_kinds, kind_named
from ..model.keys import ObjectKey, table_key
from ..model.names import QualifiedName
from ..model.state import Dependency, LiveState, Root
from ..source.documents import SpecSet
from .blocking import exclusive_holders
from .reader import Reader, read_server, read_tables


@contextmanager
def snapshot_transaction(
    conn: psycopg.Connection[Any], *, lock_timeout: str | None = None
) -> Iterator[psycopg.Cursor[Any]]:
    """One transaction that sees one moment of the catalog and can change nothing.

    Deparsing an index or a policy takes ACCESS SHARE on its table, so a session holding a managed table in
    ACCESS EXCLUSIVE mode makes the read wait: ``lock_timeout`` bounds that wait, and the error names who held
    the table (a read that waits without bound would hang a plan, or a failed apply's check, as long as the
    other session likes)."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if lock_timeout is not None:
                cur.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
            yield cur
    except psycopg.errors.LockNotAvailable:
        raise read_blocked(conn, lock_timeout) from None


class ReadBlocked(PgstateError):
    """A read waited longer than lock_timeout for a table another session holds exclusively."""

    def __init__(self, what: str, lock_timeout: str | None, holders: str, attempts: int = 1):
        self.what, self.lock_timeout, self.holders = what, lock_timeout, holders
        tries = f" in each of {attempts} attempts" if attempts > 1 else ""
        super().__init__(
            f"{what} waited longer than lock_timeout {lock_timeout or '(the session default)'}{tries} for a"
            " table another session holds" + (f": {holders}" if holders else ""),
            hint="a migration or a long transaction holds a managed table exclusively; retry when it is done, or"
            " raise --retries",
        )

    def after(self, attempts: int) -> ReadBlocked:
        return ReadBlocked(self.what, self.lock_timeout, self.holders, attempts)


def retrying_reads(read: Callable[[], Result], retries: int = DEFAULT_RETRIES) -> Result:
    """``read()``, tried again with backoff while a table it needs is held exclusively, at most ``retries`` more
    times: a waiting read stalls no application query (ACCESS SHARE conflicts only with ACCESS EXCLUSIVE), but a
    short lock_timeout must not make a plan fail on the first brief migration it meets."""
    try:
        return with_retries(read, retries, lambda error: isinstance(error, ReadBlocked))
    except ReadBlocked as last:
        raise last.after(retries + 1) from None


def read_blocked(
    conn: psycopg.Connection[Any], lock_timeout: str | None, what: str = "reading the catalog"
) -> ReadBlocked:
    """A read (of the catalog, or the sandbox's on copies of the tables) that waited longer than lock_timeout,
    with who holds the tables."""
    try:
        holders = exclusive_holders(conn)
    except psycopg.Error:
        holders = []
    return ReadBlocked(what, lock_timeout, "; ".join(holder.describe() for holder in holders[:3]))


def managed_tables(specs: SpecSet) -> list[QualifiedName]:
    return sorted({header.qualified for header in specs.headers if header.kind == "table"})


def read_live(
    conn: psycopg.Connection[Any], specs: SpecSet, *, lock_timeout: str | None = None, everything: bool = False
) -> LiveState:
    """Everything the desired state manages, as it is now, and what depends on what may change.

    ``lock_timeout``: the longest wait for a table another session holds exclusively (None: the session's own).
    ``everything``: read all of the named objects whether declared or not (export)."""
    with snapshot_transaction(conn, lock_timeout=lock_timeout) as cur:
        server = read_server(cur)
        documents = frozenset(header.kind for header in specs.headers)
        reader = Reader(
            cur, server, read_tables(cur, managed_tables(specs)), everything=everything, documents=documents
        )
        lives = {kind.name: kind.read(reader, specs.of(kind.name)) for kind in all_kinds()}
        dependencies = _read_dependencies(reader, specs, lives)
        managed = reader.managed
    return LiveState(server, reader.tables, lives, dependencies, managed)


@dataclass(frozen=True)
class DependentRow:
    """One row of dependencies.sql, resolved: the dependent's key, and the oid its kind reads it by."""

    key: ObjectKey
    oid: int
    table_oid: int | None
    description: str
    supported: bool


def _read_dependencies(reader: Reader, specs: SpecSet, lives: dict[str, Any]) -> tuple[Dependency, ...]:
    roots: list[Root] = [
        root
        for kind in all_kinds()
        for root in getattr(kind, "roots", _no_roots)(reader, specs.of(kind.name), lives[kind.name])
    ]
    if not roots:
        return ()
    columns = [root for root in roots if root.attnum > 0]
    rows = reader.rows(
        "dependencies",
        {
            "column_tables": [root.oid for root in columns],
            "column_numbers": [root.attnum for root in columns],
            "functions": [root.oid for root in roots if root.catalog == "pg_proc"],
            "views": [root.oid for root in roots if root.catalog == "pg_class" and root.attnum == 0],
        },
    )
    by_object = {(root.catalog, root.oid, root.attnum): root.key for root in roots}
    views: dict[int, ObjectKey] = {}
    dependents: list[tuple[tuple[str, int, int], tuple[str, int], DependentRow]] = []
    for (
        root_class,
        root_oid,
        root_sub,
        parent_class,
        parent_oid,
        dep_class,
        oid,
        _sub,
        schema,
        relation,
        relkind,
        name,
        table_oid,
        view_oid,
        description,
    ) in rows:
        row = _dependent(dep_class, int(view_oid or oid), schema, relation, relkind, name, table_oid, description)
        if view_oid is not None:
            views[int(view_oid)] = row.key
        dependents.append(((root_class, int(root_oid), int(root_sub)), (parent_class, int(parent_oid)), row))
    found = []
    for root, parent, row in dependents:
        root_key = by_object[root]
        parent_key = root_key if (parent[0], parent[1]) == (root[0], root[1]) else views.get(parent[1])
        if parent_key is None:
            parent_key = ObjectKey("relation", (str(parent[1]),), f"relation {parent[1]}")
        found.append(Dependency(row.key, parent_key, root_key, row.description, row.supported))
    _read_dependent_objects(reader, lives, [row for _, _, row in dependents if row.supported])
    return tuple(sorted(set(found), key=lambda d: (d.root, d.key)))


def _no_roots(reader: Reader, specs: Sequence[Any], live: Any) -> list[Root]:
    return []


def _dependent(
    catalog: str,
    oid: int,
    schema: str | None,
    relation: str | None,
    relkind: str,
    name: str | None,
    table_oid: int | None,
    description: str,
) -> DependentRow:
    if catalog == "pg_policy" and schema and relation and name:
        key = table_key("policy", QualifiedName(schema, relation), name)
        return DependentRow(key, oid, table_oid, description, True)
    if catalog == "pg_rewrite" and relkind == "v" and name == "_RETURN" and schema and relation:
        key = ObjectKey("view", (schema, relation), str(QualifiedName(schema, relation)))
        return DependentRow(key, oid, None, description, True)
    if catalog == "pg_class" and schema and relation and name and table_oid is not None:
        key = table_key("index", QualifiedName(schema, relation), name)  # as the index kind keys it
        return DependentRow(key, oid, table_oid, description, True)
    return DependentRow(ObjectKey("object", (catalog, str(oid)), description), oid, table_oid, description, False)


def _read_dependent_objects(reader: Reader, lives: dict[str, Any], rows: list[DependentRow]) -> None:
    """The definitions of the dependents pgstate can drop and re-create, read by their kinds (by oid)."""
    by_kind: dict[str, list[DependentRow]] = {}
    for row in rows:
        by_kind.setdefault(row.key.kind, []).append(row)
    for name, found in sorted(by_kind.items()):
        kind = kind_named(name)
        lives[name] = kind.read_dependents(reader, lives[name], found)  # type: ignore[attr-defined]
