"""Desired policies as the server prints them: created on the round's empty copies of their tables, read back
for all tables at once; and, beside each changed one, the live policy read back the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import psycopg
from psycopg import sql

from ...model.keys import ObjectKey
from ...sandbox.copies import Copy, copy_columns, copy_of
from ...sandbox.session import Sandbox, located
from .model import PoliciesSpec, Policy, PolicySpec, key_of
from .read import read_policies
from .steps import create_policy_sql


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


def _deparse(
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
        policy = found.get(entry.key)
        if (
            policy is None
            or (policy.using is None) != (entry.using is None)
            or (policy.with_check is None) != (entry.with_check is None)
        ):
            sandbox.problems.add("an expression of this policy is not a single expression", entry.location)
            continue
        policy = replace(policy, using_source=entry.using, with_check_source=entry.with_check)
        current = live.get(entry.key)
        beside = reparsed.get(entry.key)
        if current is not None and beside is not None:
            settled = found.get(key_of(entry.table, beside))
            if settled is not None and replace(settled, name=entry.name) == policy:
                # The same policy, once both sides are in the form the server settles on. Created again (out of
                # the way of a type change), it is made from the text as written, which the server reads under
                # the new types as the author meant (the live text may carry casts the old types needed).
                policy = replace(current, using_source=entry.using, with_check_source=entry.with_check)
        result[entry.key] = policy
    return result


def _check_fragments(sandbox: Sandbox, policy: PolicySpec, copy: sql.Composable) -> None:
    if policy.using is not None:
        sandbox.check_single_expression(policy.using, copy, policy.using_location)
    if policy.with_check is not None:
        sandbox.check_single_expression(policy.with_check, copy, policy.with_check_location)
