"""Desired policies as the server prints them: created on empty copies of their tables and read back; and,
beside each changed one, the live policy read back the same way.

Before the rounds, the policies of every table go to the sandbox's batch, a few statements whatever the number
of tables (``prefetch``); the copies get the desired column types first where the column kind's batch made them.
A table the batch could not take (a type change the batch did not make, a fragment with a ``;``, a refusal) is
done in its round, statement by statement, where a refusal is located."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace

import psycopg
from psycopg import sql

from ...catalog import query
from ...catalog.reader import columns_from_rows
from ...model.keys import ObjectKey
from ...model.names import QualifiedName
from ...sandbox.batch import TableWork, batchable, positional, run_batch
from ...sandbox.cache import CanonicalCache
from ...sandbox.copies import (
    RETYPED_IN_BATCH,
    ColumnChange,
    Copy,
    add_copy_steps,
    column_changes,
    copy_columns,
    copy_of,
    may_retype,
    needs_rounds,
)
from ...sandbox.session import Sandbox, located, single_expression_sql
from .model import PoliciesSpec, Policy, PolicySpec, key_of
from .read import policies_from_rows, read_policies
from .steps import create_policy_sql

# The fact prefetch leaves for the rounds: table -> its policies that needed the server, as the batch read them.
PREFETCHED = "policies deparsed in the batch"
NOT_A_SINGLE_EXPRESSION = "an expression of this policy is not a single expression"


def server_entries(spec: PoliciesSpec, live: Mapping[ObjectKey, Policy]) -> list[PolicySpec]:
    """The policies of a spec that need the server: all but those written exactly as the live one prints."""
    return [
        entry for entry in spec.entries if (current := live.get(entry.key)) is None or not _written_as(entry, current)
    ]


def prefetch(
    sandbox: Sandbox,
    specs: Sequence[PoliciesSpec],
    live: Mapping[ObjectKey, Policy],
    rounds: Sequence[frozenset[QualifiedName]],
) -> dict[QualifiedName, dict[ObjectKey, Policy]]:
    """The policies of every table the batch can take: those the canonical-form cache knows to be the live ones
    as they are, the others deparsed in one call, its chunks the rounds."""
    by_table = {spec.table: spec for spec in specs if spec.table in sandbox.live.tables}
    retyped_in_batch = sandbox.facts.get(RETYPED_IN_BATCH, {})
    wanted: list[tuple[QualifiedName, list[PolicySpec]]] = []
    for tables in rounds:
        for table in sorted(tables):
            spec = by_table.get(table)
            if spec is None or (may_retype(sandbox, table) and table not in retyped_in_batch):
                continue
            entries = server_entries(spec, live)
            if entries and all(batchable(e.using) and batchable(e.with_check) for e in entries):
                wanted.append((table, entries))
            elif entries:
                needs_rounds(sandbox, [table])
    cache = sandbox.cache
    keys = {
        entry.key: _cache_key(cache, entry, current, column_changes(sandbox, table))
        for table, entries in wanted
        for entry in entries
        if (current := live.get(entry.key)) is not None
    }
    known = cache.known(keys.values())
    prefetched: dict[QualifiedName, dict[ObjectKey, Policy]] = {}
    chunks: list[list[TableWork]] = [[] for _ in rounds]
    round_of = {table: number for number, tables in enumerate(rounds) for table in tables}
    planned: dict[QualifiedName, tuple[list[PolicySpec], dict[ObjectKey, str]]] = {}
    for table, entries in wanted:
        if all(keys.get(entry.key) in known for entry in entries):
            prefetched[table] = {entry.key: _as_live(entry, live[entry.key]) for entry in entries}
            continue
        work, scratch = _table_work(table, entries, live, column_changes(sandbox, table))
        chunks[round_of[table]].append(work)
        planned[table] = (entries, scratch)
    readbacks = [positional(query("policies"), "oids"), positional(query("columns"), "oids")]
    for result in run_batch(sandbox, [chunk for chunk in chunks if chunk], readbacks):
        policy_rows, column_rows = result.readbacks
        found = policies_from_rows(policy_rows, result.copies, columns_from_rows(column_rows))
        for table in result.copies.values():
            entries, scratch = planned[table]
            settled = {entry.key: _settled(entry, found, scratch, live) for entry in entries}
            if all(policy is not None for policy in settled.values()):
                prefetched[table] = {key: policy for key, policy in settled.items() if policy is not None}
                cache.remember(
                    keys[entry.key]
                    for entry in entries
                    if entry.key in keys and _is_live(entry, settled[entry.key], live)
                )
    needs_rounds(sandbox, set(planned) - set(prefetched))  # refused or not the shape asked for: located there
    return prefetched


def _cache_key(cache: CanonicalCache, entry: PolicySpec, current: Policy, changes: Sequence[ColumnChange]) -> str:
    """What a cached "the same as live" of this policy rests on: the text as written and the live one, and the
    column types its table is to get (the same text under another type may read otherwise)."""
    written = (entry.name, entry.command, entry.roles, entry.permissive, entry.using, entry.with_check)
    printed = (current.command, current.roles, current.permissive, current.using, current.with_check)
    if not changes:  # the key as before type changes could come here: what earlier plans cached stays valid
        return cache.key("policy", str(entry.table), written, printed)
    types = tuple((change.column, change.type, change.collation, change.using) for change in changes)
    return cache.key("policy", str(entry.table), written, printed, types)


def _as_live(entry: PolicySpec, current: Policy) -> Policy:
    """The outcome of the sandbox for a policy that is the live one once both are printed by the server."""
    return replace(current, using_source=entry.using, with_check_source=entry.with_check)


def _is_live(entry: PolicySpec, policy: Policy | None, live: Mapping[ObjectKey, Policy]) -> bool:
    """The sandbox settled on the live policy itself (_settled put it in place, trees and all): every field
    the same, also those equality leaves out, so that a hit gives exactly this outcome."""
    current = live.get(entry.key)
    if policy is None or current is None:
        return False
    expected = _as_live(entry, current)
    return all(getattr(policy, f.name) == getattr(expected, f.name) for f in fields(Policy))


def _table_work(
    table: QualifiedName,
    entries: Sequence[PolicySpec],
    live: Mapping[ObjectKey, Policy],
    changes: Sequence[ColumnChange],
) -> tuple[TableWork, dict[ObjectKey, str]]:
    """What the batch does for one table, as the rounds would do it: its copy (with the desired column types),
    each policy's fragments checked and the policy created, and beside a changed one the live policy under a
    scratch name (a live policy the new types refuse is not created: it differs anyway)."""
    copy = sql.Identifier("pg_temp", table.name)
    work = TableWork(table)
    add_copy_steps(work, changes)
    scratch: dict[ObjectKey, str] = {}
    for entry in entries:
        for fragment in (entry.using, entry.with_check):
            if fragment is not None:
                work.check(single_expression_sql(fragment, copy))
        work.run(create_policy_sql(entry, copy))
        current = live.get(entry.key)
        if current is not None:
            scratch[entry.key] = f"pgstate live {len(scratch)}"
            work.attempt(create_policy_sql(current, copy, name=scratch[entry.key]))
    return work, scratch


def _written_as(spec: PolicySpec, current: Policy) -> bool:
    return (
        spec.command == current.command
        and spec.roles == current.roles
        and spec.permissive == current.permissive
        and _same_text(spec.using, current.using)
        and _same_text(spec.with_check, current.with_check)
    )


def _same_text(written: str | None, printed: str | None) -> bool:
    return (written is None and printed is None) or (
        written is not None and printed is not None and written.strip() == printed.strip()
    )


def deparse(
    sandbox: Sandbox, work: list[tuple[PoliciesSpec, list[PolicySpec]]], live: Mapping[ObjectKey, Policy]
) -> dict[ObjectKey, Policy]:
    """Create the policies that need the server on their tables' copies (and, beside each changed one, the live
    policy it would replace, to read both in the form the server settles on); read them all back at once."""
    built: list[tuple[PolicySpec, Copy]] = []
    reparsed: dict[ObjectKey, str] = {}
    for spec, entries in work:
        with sandbox.collect(spec.location):
            copy = copy_of(sandbox, spec.table)
            for entry in entries:
                _check_fragments(sandbox, entry, copy.identifier)
                try:
                    sandbox.execute(create_policy_sql(entry, copy.identifier))
                except psycopg.Error as error:
                    raise located(error, entry.location) from None
                built.append((entry, copy))
                current = live.get(entry.key)
                if current is not None:
                    scratch = f"pgstate live {len(reparsed)}"
                    try:
                        with sandbox.cur.connection.transaction():
                            sandbox.execute(create_policy_sql(current, copy.identifier, name=scratch))
                        reparsed[entry.key] = scratch
                    except psycopg.Error:
                        pass  # the live policy does not survive the desired types: it differs anyway
    if not built:
        return {}
    copies = {copy.oid: copy for _, copy in built}
    found = read_policies(
        sandbox.cur, {oid: copy.table for oid, copy in copies.items()}, copy_columns(sandbox, copies.values())
    )
    result = {}
    for entry, _copy in built:
        policy = _settled(entry, found, reparsed, live)
        if policy is None:
            sandbox.problems.add(NOT_A_SINGLE_EXPRESSION, entry.location)
        else:
            result[entry.key] = policy
    return result


def _settled(
    entry: PolicySpec,
    found: Mapping[ObjectKey, Policy],
    reparsed: Mapping[ObjectKey, str],
    live: Mapping[ObjectKey, Policy],
) -> Policy | None:
    """The desired policy as read back from the copy (None: not the shape the spec asked for, a fragment
    smuggled more); the live one where both are the same once in the form the server settles on."""
    policy = found.get(entry.key)
    if (
        policy is None
        or (policy.using is None) != (entry.using is None)
        or (policy.with_check is None) != (entry.with_check is None)
    ):
        return None
    policy = replace(policy, using_source=entry.using, with_check_source=entry.with_check)
    current = live.get(entry.key)
    beside = reparsed.get(entry.key)
    if current is not None and beside is not None:
        settled = found.get(key_of(entry.table, beside))
        if settled is not None and replace(settled, name=entry.name) == policy:
            # The same policy, once both sides are in the form the server settles on. Created again (out of
            # the way of a type change), it is made from the text as written, which the server reads under
            # the new types as the author meant (the live text may carry casts the old types needed).
            policy = _as_live(entry, current)
    return policy


def _check_fragments(sandbox: Sandbox, policy: PolicySpec, copy: sql.Composable) -> None:
    if policy.using is not None:
        sandbox.check_single_expression(policy.using, copy, policy.using_location)
    if policy.with_check is not None:
        sandbox.check_single_expression(policy.with_check, copy, policy.with_check_location)
