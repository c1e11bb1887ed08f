"""Desired indexes as the server spells them.

What can be decided locally is (plain columns; an operator class, expression or predicate written exactly as the
live index of the same name prints it). Everything else is created, in declaration order, on the round's empty
copy of the table (named as the table, with the desired column types, so unnamed indexes get the names
PostgreSQL will give them) and read back, for all tables at once, with the query that reads the live ones.

Where column types change, how the live indexes will read afterwards comes from ``projection``; what needs no
server from ``local``; who holds the names the new indexes would take from ``owners``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from ...catalog import query
from ...catalog.reader import columns_from_rows
from ...errors import SourceLocation
from ...model.keys import ObjectKey
from ...model.names import QualifiedName
from ...sandbox.batch import TableWork, batchable, positional, run_batch
from ...sandbox.copies import (
    RETYPED_IN_BATCH,
    Copy,
    add_copy_steps,
    column_changes,
    copy_columns,
    copy_of,
    may_retype,
    needs_rounds,
)
from ...sandbox.session import NotASingleExpression, Sandbox, located, single_expression_sql
from ..base import Desired
from .ddl import create_index_sql
from .local import local_index
from .model import Index, IndexesSpec, IndexSpec, key_of
from .projection import PROJECTED, PROJECTED_REBUILDS, live_by_table, project
from .read import index_names, indexes_from_rows, read_indexes


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
    by_table = live_by_table(sandbox, live)
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
    projections = project(sandbox, retyped, rebuilds)
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
            local = local_index(entry, current)
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
    by_table = live_by_table(sandbox, live)
    retyped_in_batch: Mapping[QualifiedName, object] = sandbox.facts.get(RETYPED_IN_BATCH, {})
    round_of = {table: number for number, tables in enumerate(rounds) for table in tables}
    chunks: list[list[TableWork]] = [[] for _ in rounds]
    planned: dict[QualifiedName, tuple[IndexesSpec, list[int]]] = {}
    for spec in specs:
        if spec.entries is None or spec.table not in sandbox.live.tables or spec.table not in round_of:
            continue
        current = by_table.get(spec.table, {})
        server = [e for e in spec.entries if e.present and local_index(e, current) is None]
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
