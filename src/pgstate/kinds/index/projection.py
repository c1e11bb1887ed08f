"""How the live indexes of a table whose column types change will read afterwards (``lower((email)::text)``
becomes ``lower(email)``) and which ones each change rebuilds: measured by building them on a copy of the table and
making the changes there, in the batch for every table at once or round by round.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import psycopg
from psycopg import sql

from ...catalog import query
from ...catalog.reader import columns_from_rows
from ...model.keys import ObjectKey
from ...model.names import QualifiedName
from ...sandbox.batch import TableWork, positional, run_batch
from ...sandbox.copies import RETYPED_IN_BATCH, Copy, alter_type_sql, column_changes, copy_columns
from ...sandbox.locks import LOCKS_PER_COPY, packed, round_budget
from ...sandbox.session import Sandbox
from .ddl import create_index_sql
from .model import Index, IndexesSpec
from .read import index_names, indexes_from_rows, read_indexes

PROJECTION_TABLE = "pgstate_projection"


# The facts project_in_batch leaves: table -> {index name: (as it will read after the type changes, live)}, and
# table -> {column key: the live indexes its type change rebuilds}.
PROJECTED = "live indexes projected in the batch"
PROJECTED_REBUILDS = "indexes rebuilt, measured in the batch"


def project_in_batch(sandbox: Sandbox, specs: Sequence[IndexesSpec], live: Mapping[ObjectKey, Index]) -> None:
    """Before the rounds: the projection of project (below) for every table whose type changes the batch made,
    in one call. Each table's live indexes are built on a copy of its own and the changes made there, the index
    filenodes noted around each change; the copies are read back per chunk. A table that fails gets no
    projection, as in _project."""
    from ..column import key_of as column_key

    retyped: Mapping[QualifiedName, dict[str, bool]] = sandbox.facts.get(RETYPED_IN_BATCH, {})
    by_table = live_by_table(sandbox, live)
    works: list[tuple[TableWork, list[Index]]] = []
    for spec in specs:
        if spec.entries is None or spec.table not in retyped:
            continue
        candidates = [index for index in by_table.get(spec.table, {}).values() if index.valid and not index.partitioned]
        name = f"{PROJECTION_TABLE}_{len(works)}"
        work = TableWork(spec.table, copy=name)
        copy = sql.Identifier("pg_temp", name)
        work.run(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(copy, spec.table.identifier()))
        for position, index in enumerate(candidates):
            work.run(create_index_sql(index, copy, name=f"{name}_{position}"))
        filenodes = sql.SQL(
            "SELECT c.relname, c.relfilenode FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = {}::regclass"
        ).format(sql.Literal(f"pg_temp.{name}"))
        work.note(filenodes)
        for change in column_changes(sandbox, spec.table):
            work.run(alter_type_sql(copy, change))
            work.note(filenodes)
        works.append((work, candidates))
    if not works:
        return
    budget = round_budget(sandbox.live.server.max_locks_per_transaction)
    # Measured: 10 locks per table with two indexes, the type change building each index anew beside the old.
    chunks = packed(works, lambda item: LOCKS_PER_COPY + 2 * len(item[1]), budget)
    candidates_of = {work.table: candidates for work, candidates in works}
    name_of = {work.table: work.copy for work, _ in works}
    readbacks = [positional(query("indexes"), "oids"), positional(query("columns"), "oids")]
    results = run_batch(sandbox, [[work for work, _ in chunk] for chunk in chunks], readbacks)
    projected: dict[QualifiedName, dict[str, tuple[Index, Index]]] = sandbox.facts.setdefault(PROJECTED, {})
    rebuilt: dict[QualifiedName, dict[ObjectKey, tuple[str, ...]]] = sandbox.facts.setdefault(PROJECTED_REBUILDS, {})
    names = index_names(sandbox.cur, [row for result in results for row in result.readbacks[0]])
    for result in results:
        index_rows, column_rows = result.readbacks
        found = indexes_from_rows(sandbox.cur, index_rows, result.copies, columns_from_rows(column_rows), names)
        for oid, table in result.copies.items():
            candidates = candidates_of[table]
            name = name_of[table]
            projected[table] = {index.name: (found[oid][f"{name}_{n}"], index) for n, index in enumerate(candidates)}
            notes = [dict(rows) for rows in result.notes[table]]
            rebuilt[table] = {
                column_key(table, change.column): tuple(
                    sorted(
                        candidates[int(n.rsplit("_", 1)[1])].name
                        for n in notes[position]
                        if notes[position][n] != notes[position + 1][n]
                    )
                )
                for position, change in enumerate(column_changes(sandbox, table))
            }


LIVE_BY_TABLE = "live indexes by table"


def live_by_table(sandbox: Sandbox, live: Mapping[ObjectKey, Index]) -> Mapping[QualifiedName, dict[str, Index]]:
    """The live indexes by table and name, worked out once per plan: each round asks (a plan of 5,000 tables has
    some 800 rounds, and walking every live index in each took 20 s)."""
    found: Mapping[QualifiedName, dict[str, Index]] | None = sandbox.facts.get(LIVE_BY_TABLE)
    if found is None:
        by_table: dict[QualifiedName, dict[str, Index]] = defaultdict(dict)
        for index in live.values():
            by_table[index.table][index.name] = index
        found = sandbox.facts[LIVE_BY_TABLE] = dict(by_table)
    return found


def project(
    sandbox: Sandbox,
    tables: Sequence[tuple[QualifiedName, list[Index]]],
    rebuilds: dict[ObjectKey, tuple[str, ...]],
) -> dict[QualifiedName, dict[str, tuple[Index, Index]]]:
    """How the live indexes of the round's tables whose column types change will read afterwards (name ->
    (projected, live), by table); records which ones each change rebuilds.

    Each table's live indexes are built on a copy of its own, in a savepoint, and its type changes made there; the
    copies are read back together (the readback costs the same for one table as for all of the round's). An
    index that cannot survive the change (an operator class the new type lacks) makes that table's projection
    fail; then nothing of it is projected, and the plan (which drops indexes before changing types) or the apply
    decides.
    """
    from ..column import key_of as column_key

    built: list[tuple[QualifiedName, Copy, str, list[Index]]] = []
    found: dict[ObjectKey, tuple[str, ...]] = {}
    for number, (table, current) in enumerate(tables):
        candidates = [index for index in current if index.valid and not index.partitioned]
        name = f"{PROJECTION_TABLE}_{number}"
        copy = sql.Identifier("pg_temp", name)
        changes: dict[ObjectKey, tuple[str, ...]] = {}
        try:
            with sandbox.cur.connection.transaction():
                sandbox.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(copy, table.identifier()))
                oid = int(
                    sandbox.rows(sql.SQL("SELECT {}::regclass::oid").format(sql.Literal(f"pg_temp.{name}")))[0][0]
                )
                for position, index in enumerate(candidates):
                    sandbox.execute(create_index_sql(index, copy, name=f"{name}_{position}"))
                for change in column_changes(sandbox, table):
                    before = _index_filenodes(sandbox, oid)
                    sandbox.execute(alter_type_sql(copy, change))
                    after = _index_filenodes(sandbox, oid)
                    changes[column_key(table, change.column)] = tuple(
                        sorted(candidates[int(n.rsplit("_", 1)[1])].name for n in before if before[n] != after[n])
                    )
        except psycopg.errors.LockNotAvailable:
            raise  # another session's lock: it stops the canonicalisation (and says whose), no projection failure
        except psycopg.Error:
            if sandbox.cur.connection.broken:
                raise
            continue
        found.update(changes)
        built.append((table, Copy(table, oid, copy), name, candidates))
    if not built:
        return {}
    copies = [copy for _, copy, _, _ in built]
    projected = read_indexes(
        sandbox.cur, {copy.oid: table for table, copy, _, _ in built}, copy_columns(sandbox, copies)
    )
    sandbox.execute(sql.SQL("DROP TABLE {}").format(sql.SQL(", ").join(copy.identifier for copy in copies)))
    rebuilds.update(found)
    return {
        table: {index.name: (projected[copy.oid][f"{name}_{n}"], index) for n, index in enumerate(candidates)}
        for table, copy, name, candidates in built
    }


def _index_filenodes(sandbox: Sandbox, table_oid: int) -> dict[str, int]:
    rows = sandbox.rows(
        sql.SQL(
            "SELECT c.relname, c.relfilenode FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s"
        ),
        [table_oid],
    )
    return {name: filenode for name, filenode in rows}
