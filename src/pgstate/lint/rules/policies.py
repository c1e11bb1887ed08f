"""Rules on row-level security policies: their cost per row and whom they let in."""

from __future__ import annotations

from collections.abc import Iterator

from ...kinds.index.model import Index
from ...kinds.policy import Policy
from ...model.names import quote_for_display
from ..base import Hit, Severity
from ..context import LintContext, each_policy, policy_target
from ..expressions import compared_columns, is_constant_true, parse
from ..nodetree import function_calls_outside_initplan
from ..registry import rule

COMMANDS = ("select", "insert", "update", "delete")  # `all` stands for each of them
OPEN_ROLES = frozenset({"public", "anon"})  # who reaches a policy without signing in


def _clauses(policy: Policy) -> Iterator[tuple[str, str | None]]:
    yield "USING", policy.using_tree
    yield "WITH CHECK", policy.with_check_tree


@rule(
    "rls-auth-initplan",
    Severity.WARNING,
    "a policy calls auth.*() or current_setting() outside a scalar subquery, so once per row instead of once",
)
def auth_initplan(ctx: LintContext) -> Iterator[Hit]:
    if ctx.facts is None:
        return
    functions = ctx.facts.initplan_functions
    for _, policy in each_policy(ctx):
        for clause, text in _clauses(policy):
            tree = parse(text)
            if tree is None:
                continue
            # One check per function, so the message can name the calls (the reader reports locations only).
            called = [name for oid, name in sorted(functions.items()) if function_calls_outside_initplan(tree, {oid})]
            if called:
                yield Hit(
                    policy_target(policy),
                    f"{clause} calls {', '.join(called)} once per row",
                    "wrap each call in a scalar subquery so it runs once per statement, e.g. `(select auth.uid())`",
                    ctx.location(policy),
                )


@rule("policy-no-role", Severity.WARNING, "a policy without TO applies to every role, anon included")
def no_role(ctx: LintContext) -> Iterator[Hit]:
    for _, policy in each_policy(ctx):
        if policy.roles == ("public",):
            yield Hit(
                policy_target(policy),
                "applies to every role (no TO), anon included, and is evaluated for all of them",
                "name the roles it is for, e.g. `roles: [authenticated]`",
                ctx.location(policy),
            )


@rule(
    "multiple-permissive-policies",
    Severity.WARNING,
    "several permissive policies for the same role and command: each is evaluated for every row",
)
def multiple_permissive(ctx: LintContext) -> Iterator[Hit]:
    for subject in ctx.tables:
        permissive = [p for p in subject.policies or () if p.permissive]
        roles = sorted({role for policy in permissive for role in policy.roles})
        overlaps: dict[tuple[str, ...], list[str]] = {}  # policy names -> "role/command" pairs they share
        for role in roles:
            for command in COMMANDS:
                names = tuple(
                    sorted(
                        p.name
                        for p in permissive
                        if p.command in (command, "all") and (role in p.roles or "public" in p.roles)
                    )
                )
                if len(names) > 1:
                    overlaps.setdefault(names, []).append(f"{role} {command}")
        for names, pairs in sorted(overlaps.items()):
            first = next(p for p in permissive if p.name == names[0])
            yield Hit(
                str(subject.name),
                f"permissive policies {', '.join(quote_for_display(n) for n in names)} all apply to "
                f"{', '.join(pairs)}; PostgreSQL evaluates every one of them for each row",
                "merge them into one policy per role and command (OR the conditions), or make extra ones RESTRICTIVE",
                ctx.location(first),
            )


@rule(
    "policy-always-true",
    Severity.WARNING,
    "a policy's USING or WITH CHECK is the constant true (an error when it applies to anon or public)",
)
def always_true(ctx: LintContext) -> Iterator[Hit]:
    for _, policy in each_policy(ctx):
        clauses = [clause for clause, text in _clauses(policy) if (tree := parse(text)) and is_constant_true(tree)]
        if not clauses:
            continue
        open_to = sorted(OPEN_ROLES.intersection(policy.roles))
        yield Hit(
            policy_target(policy),
            f"{' and '.join(clauses)} is `true`: every row passes" + (f", for {', '.join(open_to)}" if open_to else ""),
            "write the condition that rows must meet; if every row really is public, restrict the roles and say so"
            " with `lint: {ignore: [policy-always-true]}`",
            ctx.location(policy),
            Severity.ERROR if open_to else None,
        )


@rule(
    "policy-column-unindexed",
    Severity.WARNING,
    "a policy's USING compares a column with `=` that no valid, non-partial btree index starts with",
)
def column_unindexed(ctx: LintContext) -> Iterator[Hit]:
    # Only USING: it filters the rows a query reads, where an index helps; WITH CHECK looks at one new row.
    if ctx.facts is None:
        return
    for subject, policy in each_policy(ctx):
        tree = parse(policy.using_tree)
        names = policy.attributes or ctx.facts.attributes.get(subject.name, {})
        if tree is None or not names:
            continue
        leading = {_leading_column(index) for index in subject.indexes.values() if _serves_lookups(index)}
        columns = dict.fromkeys(names[attno] for attno in compared_columns(tree, ctx.facts.equality_operators))
        for column in columns:
            if column not in leading:
                yield Hit(
                    policy_target(policy),
                    f"compares column {quote_for_display(column)} with `=`, but no valid btree index of"
                    f" {subject.name} starts with it: every query scans the table to apply the policy",
                    f"add an index whose first column is {quote_for_display(column)}:"
                    f" `indexes: [{{columns: [{column}]}}]`",
                    ctx.location(policy),
                )


def _serves_lookups(index: Index) -> bool:
    # A partial index serves only queries that imply its predicate; the policy's do not, in general.
    return index.valid and index.method == "btree" and index.predicate is None and bool(index.keys)


def _leading_column(index: Index) -> str | None:
    return index.keys[0].column
