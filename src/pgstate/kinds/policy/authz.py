"""Whether a policy step widens who can see or change rows: the ``authz-widening`` and ``authz-changed`` hazards.

The rule compares the table's access before and after the run, as a whole, never by reading SQL back:

* A policy step can widen anything only when the table has RLS on both before and after. Turned on by the run,
  the table was open to everyone before; turned off, the ``disable-rls`` step carries the hazard.
* Rows pass when one permissive policy and every restrictive policy lets them. So a permissive policy added
  widens, and a restrictive one dropped widens, unless one of the other side's policies already says as much
  (the same expressions, for at least the same roles and commands: a policy renamed). A permissive policy
  dropped, or a restrictive one added, narrows.
* A policy that changes is compared with what it was. Restrictive to permissive widens. Permissive to
  restrictive never does (where the restrictive one applies, its rows are a subset of those that passed;
  where the permissive one no longer applies, it only let rows through). Otherwise a permissive policy widens
  when its roles or its commands do (a role not in the old set, ``public`` added, SELECT to ALL), a
  restrictive one when they narrow; and an expression (USING or WITH CHECK) that is not provably the same is
  ``authz-changed``, since whether it is wider is not decided here.
* Expressions are the same when the server prints them alike or their parse trees are equal, up to the
  column numbers (a desired policy's tree comes from a copy of the table) and up to a call wrapped in a scalar
  subquery: ``(SELECT auth.uid())`` and ``auth.uid()`` give the same value for every row when the functions
  are not volatile (the subquery is run once, as an InitPlan, which is the point of the rewrite).

Roles are compared as names: a role is covered by the same role or by ``public``. Membership is not followed, so
a change to a role that is a member of the old one still counts as wider.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...lint.nodetree import EXPR_SUBLINK, Node, NodeTreeError, Unparsed, parse_node_tree
from ...model.names import QualifiedName
from ...planning.steps import Hazard
from ..rls import key_of as rls_key
from .model import Policy, PolicyDesired

if TYPE_CHECKING:
    from ..context import PlanContext

COMMANDS_COVERED = {
    "all": frozenset({"select", "insert", "update", "delete"}),
    "select": frozenset({"select"}),
    "insert": frozenset({"insert"}),
    "update": frozenset({"update"}),
    "delete": frozenset({"delete"}),
}

# Fields that say where the text was, not what it means.
_POSITIONS = frozenset({"location", "stmt_location", "stmt_len"})
# A Var's fields that number the column; compared by the column's name instead.
_COLUMN_NUMBERS = ("varattno", "varattnosyn")
# What the one expression of a wrapping subquery may be built of: calls, operators, constants, and the casts and
# boolean glue between them. Anything else (a column, a parameter, a subquery) is not a plain wrapped call.
_PLAIN = frozenset({"CONST", "FUNCEXPR", "OPEXPR", "RELABELTYPE", "BOOLEXPR"})


@dataclass(frozen=True)
class TableAccess:
    """A table's access before and after the run, as far as its policies decide it."""

    guarded: bool  # RLS on both before and after: only then can a policy step widen anything
    before: tuple[Policy, ...]  # the table's live policies
    after: tuple[Policy, ...]  # its policies once the run is done
    stable: frozenset[int]  # oids of functions that are not volatile (a wrapped call of them is the same value)


def by_table(policies: Iterable[Policy]) -> dict[QualifiedName, tuple[Policy, ...]]:
    """Policies grouped by their table, in their order: what ``table_access`` takes, made once per plan (a walk
    of every policy for each changed table was 0.6 s for 500 of 5,000 tables)."""
    grouped: dict[QualifiedName, list[Policy]] = {}
    for policy in policies:
        grouped.setdefault(policy.table, []).append(policy)
    return {table: tuple(found) for table, found in grouped.items()}


def table_access(
    context: PlanContext,
    declared: PolicyDesired,
    table: QualifiedName,
    live_of: Mapping[QualifiedName, tuple[Policy, ...]],
    declared_of: Mapping[QualifiedName, tuple[Policy, ...]],
) -> TableAccess:
    """The table's policies before and after the run, and whether RLS is on at both ends (a flag pgstate did not
    read counts as on: then every policy step is judged). ``live_of`` and ``declared_of``: the live and the
    declared policies ``by_table``."""
    live_flags = context.live.of("rls").objects.get(rls_key(table))
    desired_rls = context.kind_desired("rls")
    wanted_flags = desired_rls.objects.get(rls_key(table)) if desired_rls is not None else None
    on_before = live_flags.enabled if live_flags is not None else True
    on_after = wanted_flags.enabled if wanted_flags is not None else on_before
    before = live_of.get(table, ())
    # undeclared: its policies stay as they are (one in the way is created again as it was)
    after = declared_of.get(table, ()) if table in declared.tables else before
    return TableAccess(on_before and on_after, before, after, declared.stable_functions)


def added(access: TableAccess, policy: Policy) -> tuple[Hazard, ...]:
    """A policy that did not exist: a permissive one widens, unless a live one already lets as much through."""
    if not access.guarded or not policy.permissive:
        return ()
    if any(
        old.permissive and _covers(old, policy) and same_expressions(old, policy, access.stable)
        for old in access.before
    ):
        return ()
    return (Hazard.AUTHZ_WIDENING,)


def removed(access: TableAccess, policy: Policy) -> tuple[Hazard, ...]:
    """A policy dropped for good: a restrictive one widens, unless one that stays restricts as much."""
    if not access.guarded or policy.permissive:
        return ()
    if any(
        not new.permissive and _covers(new, policy) and same_expressions(policy, new, access.stable)
        for new in access.after
    ):
        return ()
    return (Hazard.AUTHZ_WIDENING,)


def changed(access: TableAccess, old: Policy, new: Policy) -> tuple[Hazard, ...]:
    """A policy that exists before and after (altered, or dropped and created): compared with what it was."""
    if not access.guarded or (old.permissive and not new.permissive):
        return ()
    if not old.permissive and new.permissive:
        return (Hazard.AUTHZ_WIDENING,)
    # A permissive policy must stay within what it was; a restrictive one must still hold all it held.
    big, small = (old, new) if new.permissive else (new, old)
    if not _covers(big, small):
        return (Hazard.AUTHZ_WIDENING,)
    if not same_expressions(old, new, access.stable):
        return (Hazard.AUTHZ_CHANGED,)
    return ()


def _covers(big: Policy, small: Policy) -> bool:
    """Whether ``big`` applies to every role and command ``small`` applies to."""
    roles = "public" in big.roles or set(small.roles) <= set(big.roles)
    return roles and COMMANDS_COVERED[small.command] <= COMMANDS_COVERED[big.command]


# --- expressions --------------------------------------------------------------------------------------------------


def same_expressions(a: Policy, b: Policy, stable: frozenset[int]) -> bool:
    return _same(a, b, a.using, b.using, a.using_tree, b.using_tree, stable) and _same(
        a, b, a.with_check, b.with_check, a.with_check_tree, b.with_check_tree, stable
    )


def _same(
    a: Policy,
    b: Policy,
    text_a: str | None,
    text_b: str | None,
    tree_a: str | None,
    tree_b: str | None,
    stable: frozenset[int],
) -> bool:
    if text_a is None or text_b is None:
        return text_a is None and text_b is None
    if text_a == text_b:
        return True  # as the server prints them
    if tree_a is None or tree_b is None:
        return False
    try:
        first, second = parse_node_tree(tree_a), parse_node_tree(tree_b)
    except NodeTreeError:
        return False  # a tree this reader cannot read: not provably the same
    return bool(_canonical(first, a.attributes, stable) == _canonical(second, b.attributes, stable))


def _canonical(tree: Node, columns: Mapping[int, str], stable: frozenset[int]) -> Any:
    """The tree as plain comparable data: without positions, the policy's own columns by name, and every
    wrapping ``(SELECT call)`` replaced by the call."""

    def walk(value: Any, depth: int) -> Any:
        if isinstance(value, Node):
            inner = _wrapped_call(value, stable)
            if inner is not None:
                return walk(inner, depth)
            below = depth + 1 if value.name == "QUERY" else depth
            fields = {key: walk(item, below) for key, item in value.fields.items() if key not in _POSITIONS}
            if value.name == "VAR" and value.get("varno") == 1 and value.get("varlevelsup") == depth:
                for key in _COLUMN_NUMBERS:  # the policy's own table: numbered differently on a copy
                    if key in fields:
                        fields[key] = columns.get(fields[key], fields[key])
            return (value.name, tuple(sorted(fields.items())))
        if isinstance(value, Unparsed):
            return ("<unparsed>", tuple(walk(item, depth) for item in value.items))
        if isinstance(value, tuple):
            return tuple(walk(item, depth) for item in value)
        return value

    return walk(tree, 0)


def _wrapped_call(node: Node, stable: frozenset[int]) -> Node | None:
    """The expression of ``(SELECT expression)``, an uncorrelated scalar subquery with no FROM, no clauses and one
    output, when the expression is built of calls of functions that are not volatile; else None."""
    if node.name != "SUBLINK" or node.get("subLinkType") != EXPR_SUBLINK or node.get("testexpr") is not None:
        return None
    query = node.get("subselect")
    if not isinstance(query, Node) or query.name != "QUERY" or query.get("commandType") != 1:
        return None
    targets = query.get("targetList")
    jointree = query.get("jointree")
    if not (isinstance(targets, tuple) and len(targets) == 1 and isinstance(targets[0], Node)):
        return None
    if not (isinstance(jointree, Node) and jointree.name == "FROMEXPR" and _empty(jointree.fields.values())):
        return None
    other = (item for key, item in query.fields.items() if key not in _QUERY_SHAPE)
    if not _empty(other):
        return None  # a FROM, WHERE, GROUP BY, LIMIT, CTE, ... or a field this reader does not know
    target = targets[0]
    expression = target.get("expr")
    if target.get("resjunk") is not False or not isinstance(expression, Node) or not _plain(expression, stable):
        return None
    return expression


# The fields of a QUERY a bare ``SELECT expression`` may have set; every other one must be empty.
_QUERY_SHAPE = frozenset({"commandType", "canSetTag", "targetList", "jointree", *_POSITIONS})


def _empty(values: Iterable[Any]) -> bool:
    return all(value in (None, False, 0, ()) for value in values)


def _plain(node: Node, stable: frozenset[int]) -> bool:
    if node.name not in _PLAIN:
        return False
    if node.name == "FUNCEXPR" and (node.get("funcid") not in stable or node.get("funcretset") is not False):
        return False
    if node.name == "OPEXPR" and (node.get("opfuncid") not in stable or node.get("opretset") is not False):
        return False
    args = node.get("arg") if node.name == "RELABELTYPE" else node.get("args")
    items = (args,) if isinstance(args, Node) else args if isinstance(args, tuple) else ()
    if args is not None and not items:
        return False
    return all(isinstance(item, Node) and _plain(item, stable) for item in items)


def called_functions(policies: Iterable[Policy]) -> frozenset[int]:
    """Oids of the functions (and operators' functions) these policies call: whether they are volatile decides
    whether a wrapped call is the same as the bare one."""
    return frozenset().union(
        *(_functions_in(tree) for policy in policies for tree in (policy.using_tree, policy.with_check_tree) if tree)
    )


@functools.lru_cache(maxsize=4096)
def _functions_in(tree: str) -> frozenset[int]:
    """The functions one parse tree calls. Cached by its text: the policies of many tables often share one shape
    (a column is a number in the tree), and a plan asks before the rounds and in them."""
    try:
        stack: list[Any] = [parse_node_tree(tree)]
    except NodeTreeError:
        return frozenset()
    found: set[int] = set()
    while stack:
        value = stack.pop()
        if isinstance(value, Node):
            for key in ("funcid", "opfuncid"):
                if isinstance(value.get(key), int):
                    found.add(value.get(key))
            stack.extend(value.fields.values())
        elif isinstance(value, tuple):
            stack.extend(value)
        elif isinstance(value, Unparsed):
            stack.extend(value.items)
    return frozenset(found)
