"""Desired indexes as the server spells them.

What can be decided locally is (plain columns; an operator class, expression or predicate written exactly as the
live index of the same name prints it). Everything else is created, in declaration order, on the round's empty
copy of the table (named as the table, with the desired column types, so unnamed indexes get the names
PostgreSQL will give them) and read back, for all tables at once, with the query that reads the live ones.

Where column types change, the live indexes are also built on a second copy before the change, which shows how
they will read afterwards (``lower((email)::text)`` becomes ``lower(email)``) and which ones it rebuilds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from ...catalog import query
from ...catalog.reader import columns_from_rows
from ...errors import SourceLocation
from ...model.keys import ObjectKey
from ...model.names import QualifiedName, quote_for_display
from ...sandbox.batch import TableWork, batchable, positional, run_batch
from ...sandbox.copies import (
    RETYPED_IN_BATCH,
    Copy,
    add_copy_steps,
    alter_type_sql,
    column_changes,
    copy_columns,
    copy_of,
    may_retype,
    needs_rounds,
)
from ...sandbox.locks import LOCKS_PER_COPY, packed, round_budget
from ...sandbox.session import NotASingleExpression, Sandbox, located, single_expression_sql
from ..base import Desired
from .ddl import create_index_sql
from .model import Index, IndexesSpec, IndexKey, IndexSpec, KeySpec, key_of, temporary_name
from .read import index_names, indexes_from_rows, read_indexes

PROJECTION_TABLE = "pgstate_projection"


@dataclass(frozen=True)
class IndexDesired(Desired[Index]):
    # Tables whose indexes are managed: table -> prune_indexes.
    tables: Mapping[QualifiedName, bool] = field(default_factory=dict)
    # Column key -> the live indexes its type change rebuilds (measured on a copy that holds them).
    rebuilds: Mapping[ObjectKey, tuple[str, ...]] = field(default_factory=dict)
    # Relation names the desired indexes would newly take -> who holds each now ("index on <table>", or a kind).
    owners: Mapping[QualifiedName, str] = field(default_factory=dict)


def canonicalize(sandbox: Sandbox, specs: Sequence[IndexesSpec], live: Mapping[ObjectKey, Index]) -> IndexDesired:
    objects: dict[ObjectKey, Index] = {}
    absent: dict[ObjectKey, SourceLocation | None] = {}
    locations = {}
    rebuilds: dict[ObjectKey, tuple[str, ...]] = {}
    tables: dict[QualifiedName, bool] = {}
    work: list[tuple[IndexesSpec, list[int], dict[str, tuple[Index, Index]]]] = []
    by_table = _live_by_table(sandbox, live)
    in_batch: Mapping[QualifiedName, dict[str, tuple[Index, Index]]] = sandbox.facts.get(PROJECTED, {})
    in_batch_deparsed: Mapping[QualifiedName, list[tuple[Index, SourceLocation]]] = sandbox.facts.get(DEPARSED, {})
    retyped = [
        (spec.table, list(by_table.get(spec.table, {}).values()))
        for spec in specs
        if spec.entries is not None
        and spec.table in sandbox.live.tables
        and column_changes(sandbox, spec.table)
        and spec.table not in sandbox.facts.get(RETYPED_IN_BATCH, {})
    ]
    # name -> (as it will read after the type changes, live), by table
    projections = _project(sandbox, retyped, rebuilds)
    for spec in specs:
        if spec.table in in_batch:
            projections[spec.table] = in_batch[spec.table]
            rebuilds.update(sandbox.facts[PROJECTED_REBUILDS].get(spec.table, {}))
    for spec in specs:
        if spec.entries is None or spec.table not in sandbox.live.tables:
            continue
        tables[spec.table] = spec.prune
        current = by_table.get(spec.table, {})
        projected = projections.get(spec.table, {})
        server = []
        for entry in spec.entries:
            if not entry.present:
                assert entry.name is not None, "the schema requires a name with present: false"
                absent[key_of(spec.table, entry.name)] = entry.location
                locations[key_of(spec.table, entry.name)] = entry.location
                continue
            local = _local_index(entry, current)
            if local is None:
                server.append(entry.position)
            else:
                objects[local.key] = local
                locations[local.key] = entry.location
        if server and spec.table in in_batch_deparsed:
            for index, location in in_batch_deparsed[spec.table]:
                objects[index.key] = index
                locations[index.key] = location
        elif server:
            work.append((spec, server, projected))
    for index, location in _deparse(sandbox, work):
        objects[index.key] = index
        locations[index.key] = location
    return IndexDesired(
        objects=objects,
        absent=absent,
        locations=locations,
        tables=tables,
        rebuilds=rebuilds,
        owners={},  # once for all the rounds: finish
    )


# The facts project_in_batch leaves: table -> {index name: (as it will read after the type changes, live)}, and
# table -> {column key: the live indexes its type change rebuilds}.
PROJECTED = "live indexes projected in the batch"
PROJECTED_REBUILDS = "indexes rebuilt, measured in the batch"


def project_in_batch(sandbox: Sandbox, specs: Sequence[IndexesSpec], live: Mapping[ObjectKey, Index]) -> None:
    """Before the rounds: the projection of _project (below) for every table whose type changes the batch made,
    in one call. Each table's live indexes are built on a copy of its own and the changes made there, the index
    filenodes noted around each change; the copies are read back per chunk. A table that fails gets no
    projection, as in _project."""
    from ..column import key_of as column_key

    retyped: Mapping[QualifiedName, dict[str, bool]] = sandbox.facts.get(RETYPED_IN_BATCH, {})
    by_table = _live_by_table(sandbox, live)
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


# The fact deparse_in_batch leaves: table -> its desired indexes that needed the server, as the batch read them.
DEPARSED = "desired indexes deparsed in the batch"


def deparse_in_batch(
    sandbox: Sandbox,
    specs: Sequence[IndexesSpec],
    live: Mapping[ObjectKey, Index],
    rounds: Sequence[frozenset[QualifiedName]],
) -> None:
    """Before the rounds: the desired indexes that need the server, of every table the batch can take, built on
    the tables' copies (with the desired column types where the column kind's batch made them) in one call, its
    chunks the rounds, and read back per chunk. A table the batch could not take (a type change it did not make,
    a fragment with a ``;``, a refusal, an index not of the shape asked for) goes to the rounds, where the
    refusal is located."""
    by_table = _live_by_table(sandbox, live)
    retyped_in_batch: Mapping[QualifiedName, object] = sandbox.facts.get(RETYPED_IN_BATCH, {})
    round_of = {table: number for number, tables in enumerate(rounds) for table in tables}
    chunks: list[list[TableWork]] = [[] for _ in rounds]
    planned: dict[QualifiedName, tuple[IndexesSpec, list[int]]] = {}
    for spec in specs:
        if spec.entries is None or spec.table not in sandbox.live.tables or spec.table not in round_of:
            continue
        current = by_table.get(spec.table, {})
        server = [e for e in spec.entries if e.present and _local_index(e, current) is None]
        if not server:
            continue
        fragments = [key.expression for e in server for key in e.keys] + [e.where for e in server]
        if (may_retype(sandbox, spec.table) and spec.table not in retyped_in_batch) or not all(
            batchable(fragment) for fragment in fragments
        ):
            needs_rounds(sandbox, [spec.table])
            continue
        positions = {entry.position for entry in server}
        work = TableWork(spec.table)
        add_copy_steps(work, column_changes(sandbox, spec.table))
        copy = sql.Identifier("pg_temp", spec.table.name)
        for entry in spec.entries:
            if not entry.present:
                continue
            if entry.position in positions:
                for fragment in [key.expression for key in entry.keys] + [entry.where]:
                    if fragment is not None:
                        work.check(single_expression_sql(fragment, copy))
            work.run(create_index_sql(entry, copy, name=entry.known_name if entry.is_plain or entry.name else None))
        chunks[round_of[spec.table]].append(work)
        planned[spec.table] = (spec, sorted(positions))
    if not planned:
        return
    projections: Mapping[QualifiedName, dict[str, tuple[Index, Index]]] = sandbox.facts.get(PROJECTED, {})
    readbacks = [
        positional(CREATED_NAMES, "oids"),
        positional(query("indexes"), "oids"),
        positional(query("columns"), "oids"),
    ]
    deparsed: dict[QualifiedName, list[tuple[Index, SourceLocation]]] = sandbox.facts.setdefault(DEPARSED, {})
    results = run_batch(sandbox, [chunk for chunk in chunks if chunk], readbacks)
    names = index_names(sandbox.cur, [row for result in results for row in result.readbacks[1]])
    for result in results:
        name_rows, index_rows, column_rows = result.readbacks
        created = _names_by_copy(name_rows)
        found = indexes_from_rows(sandbox.cur, index_rows, result.copies, columns_from_rows(column_rows), names)
        for oid, table in result.copies.items():
            spec, server_positions = planned[table]
            settled, refusals = _settled(spec, server_positions, projections.get(table, {}), created[oid], found[oid])
            if not refusals:
                deparsed[table] = settled
    needs_rounds(sandbox, set(planned) - set(deparsed))


LIVE_BY_TABLE = "live indexes by table"


def _live_by_table(sandbox: Sandbox, live: Mapping[ObjectKey, Index]) -> Mapping[QualifiedName, dict[str, Index]]:
    """The live indexes by table and name, worked out once per plan: each round asks (a plan of 5,000 tables has
    some 800 rounds, and walking every live index in each took 20 s)."""
    found: Mapping[QualifiedName, dict[str, Index]] | None = sandbox.facts.get(LIVE_BY_TABLE)
    if found is None:
        by_table: dict[QualifiedName, dict[str, Index]] = defaultdict(dict)
        for index in live.values():
            by_table[index.table][index.name] = index
        found = sandbox.facts[LIVE_BY_TABLE] = dict(by_table)
    return found


def _deparse(
    sandbox: Sandbox, work: list[tuple[IndexesSpec, list[int], dict[str, tuple[Index, Index]]]]
) -> list[tuple[Index, SourceLocation]]:
    """Create every desired index of each table on its copy, in declaration order (a name PostgreSQL chooses for
    an unnamed one takes the others into account); read back, in one pass, those the server was needed for."""
    built: list[tuple[IndexesSpec, list[int], dict[str, tuple[Index, Index]], Copy]] = []
    for spec, positions, projected in work:
        assert spec.entries is not None
        with sandbox.collect(spec.location):
            copy = copy_of(sandbox, spec.table)
            for entry in spec.entries:
                if not entry.present:
                    continue
                if entry.position in positions:
                    _check_fragments(sandbox, entry, copy.identifier)
                name = entry.known_name if entry.is_plain or entry.name else None
                try:
                    sandbox.execute(create_index_sql(entry, copy.identifier, name=name))
                except psycopg.Error as error:
                    raise located(error, entry.location) from None
            built.append((spec, positions, projected, copy))
    if not built:
        return []
    copies = [copy for *_, copy in built]
    names = _created_names(sandbox, copies)
    found = read_indexes(sandbox.cur, {copy.oid: copy.table for copy in copies}, copy_columns(sandbox, copies))
    result = []
    for spec, positions, projected, copy in built:
        settled, refusals = _settled(spec, positions, projected, names[copy.oid], found[copy.oid])
        result += settled
        for refused in refusals:
            sandbox.problems.add(refused.message, refused.location)
    return result


def _settled(
    spec: IndexesSpec,
    positions: Sequence[int],
    projected: Mapping[str, tuple[Index, Index]],
    names: Sequence[str],
    found: Mapping[str, Index],
) -> tuple[list[tuple[Index, SourceLocation]], list[NotASingleExpression]]:
    """The desired indexes of one table as its copy holds them (``names``: the copy's indexes in creation
    order), for the entries at ``positions``; and the entries whose index is not the shape the spec asked for."""
    assert spec.entries is not None
    result = []
    refusals = []
    present = [entry for entry in spec.entries if entry.present]
    for number, entry in enumerate(present):
        if entry.position not in positions:
            continue
        name = names[number]
        index = found[name]
        try:
            _check_structure(entry, index)
        except NotASingleExpression as refused:
            refusals.append(refused)
            continue
        projection = projected.get(name)
        if projection is not None and projection[0].definition() == index.definition():
            # Equal once the types change: spelled as the live index is spelled today, so no step is planned.
            live = projection[1]
            index = replace(
                index,
                keys=live.keys,
                include=live.include,
                predicate=live.predicate,
                method=live.method,
                unique=live.unique,
            )
        result.append((index, entry.location))
    return result, refusals


# Each copy's indexes by creation order (oid order): the position of a spec is the position of its index.
CREATED_NAMES = sql.SQL(
    "SELECT i.indrelid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = ANY (%(oids)s::oid[]) ORDER BY i.indrelid, i.indexrelid"
)


def _created_names(sandbox: Sandbox, copies: list[Copy]) -> dict[int, list[str]]:
    return _names_by_copy(sandbox.rows(CREATED_NAMES, {"oids": [copy.oid for copy in copies]}))


def _names_by_copy(rows: Sequence[Sequence[Any]]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for oid, name in rows:
        names.setdefault(int(oid), []).append(name)
    return names


def _check_fragments(sandbox: Sandbox, entry: IndexSpec, copy: sql.Composable) -> None:
    for key in entry.keys:
        if key.expression is not None:
            sandbox.check_single_expression(key.expression, copy, key.location)
    if entry.where is not None:
        sandbox.check_single_expression(entry.where, copy, entry.where_location)


def _check_structure(spec: IndexSpec, built: Index) -> None:
    """What the server built must have exactly the shape the spec asked for, else a fragment smuggled more."""
    same = (
        len(built.keys) == len(spec.keys)
        and built.include == spec.include
        and (built.predicate is None) == (spec.where is None)
        and built.unique == spec.unique
        and built.method == spec.method
        and all(
            (b.column is None) == (s.column is None)
            and b.descending == s.descending
            and (b.nulls_first == s.nulls_first or spec.method != "btree")
            for b, s in zip(built.keys, spec.keys, strict=False)
        )
    )
    if not same:
        raise NotASingleExpression("an expression or predicate of this index is not a single expression", spec.location)


def _project(
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


def with_owners(sandbox: Sandbox, desired: IndexDesired, live: Mapping[ObjectKey, Index]) -> IndexDesired:
    """The rounds' joined outcome with the owners of the names it would take: one query for all tables."""
    return replace(desired, owners=_owners(sandbox, desired.objects, live))


def _owners(
    sandbox: Sandbox, desired: Mapping[ObjectKey, Index], live: Mapping[ObjectKey, Index]
) -> dict[QualifiedName, str]:
    """Who holds the relation names applying the desired indexes would newly take: the names of indexes the table
    does not have yet, and the temporary names of replacements. A name the table's own index holds is ours."""
    names = set()
    for key, index in desired.items():
        existing = live.get(key)
        if existing is None:
            names.add(index.qualified_name)
        elif existing.definition() != index.definition():
            names.add(QualifiedName(index.table.schema, temporary_name(index.name)))
    if not names:
        return {}
    wanted = sorted(names)
    rows = sandbox.catalog_rows(
        query("relations"), {"schemas": [n.schema for n in wanted], "names": [n.name for n in wanted]}
    )
    owners = {}
    for schema, name, relkind, table_schema, table_name in rows:
        if relkind in ("i", "I"):
            owners[QualifiedName(schema, name)] = f"index on {QualifiedName(table_schema, table_name)}"
        else:
            owners[QualifiedName(schema, name)] = RELKINDS.get(relkind, "relation")
    return owners


RELKINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "f": "foreign table",
    "c": "type",
    "t": "TOAST table",
}


# --- what can be decided without the server ----------------------------------------------------------------------


def _local_index(spec: IndexSpec, current: Mapping[str, Index]) -> Index | None:
    """The model of an index spec when no server is needed for it, else None.

    Plain columns never need the server. An operator class, collation, expression or predicate needs it unless it
    is written exactly as the live index of the same name prints it: then it means the same.
    """
    name = spec.known_name
    if name is None:
        return None  # PostgreSQL names expression keys after the function; only the server knows
    live_index = current.get(name)
    keys: list[IndexKey] = []
    for position, key in enumerate(spec.keys):
        live_key = live_index.keys[position] if live_index and position < len(live_index.keys) else None
        local = _local_key(key, live_key)
        if local is None:
            return None
        keys.append(local)
    predicate = spec.where
    if predicate is not None:
        if live_index is None or live_index.predicate != predicate.strip():
            return None
        predicate = live_index.predicate
    return Index(
        table=spec.table,
        name=name,
        keys=tuple(keys),
        method=spec.method,
        unique=spec.unique,
        include=spec.include,
        predicate=predicate,
    )


def _local_key(key: KeySpec, live_key: IndexKey | None) -> IndexKey | None:
    local = IndexKey(key.column, None, key.descending, key.nulls_first, None, None)
    if key.column is not None and key.opclass is None and key.collation is None:
        return local
    if live_key is None:
        return None
    wanted_collation = quote_for_display(key.collation) if key.collation is not None else None
    same_decoration = live_key.opclass == key.opclass and live_key.collation == wanted_collation
    if key.column is not None and live_key.column == key.column and same_decoration:
        return local._replace(opclass=live_key.opclass, collation=live_key.collation)
    if key.expression is not None and same_decoration and live_key.expression == key.expression.strip():
        return IndexKey(
            None, live_key.expression, key.descending, key.nulls_first, live_key.opclass, live_key.collation
        )
    return None
