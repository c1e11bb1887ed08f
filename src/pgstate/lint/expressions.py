"""Questions about a policy's parsed expression (its pg_node_tree), answered from the tree, never from text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .nodetree import Datum, Node, NodeTreeError, parse_node_tree

BOOLOID = 16  # pg_type.oid of boolean, fixed in pg_type.dat
POLICY_TABLE_VARNO = 1  # a policy's expression has one range table entry: its own table


def parse(tree: str | None) -> Node | None:
    """The tree, or None when there is no expression, or when this reader cannot read it (then no rule fires:
    lint must not fail on a tree from a PostgreSQL version it has not seen)."""
    if tree is None:
        return None
    try:
        return parse_node_tree(tree)
    except NodeTreeError:
        return None


def is_constant_true(node: Node) -> bool:
    """The expression is the boolean constant true (``USING (true)``), not merely something always true."""
    value = node.get("constvalue")
    return (
        node.name == "CONST"
        and node.get("consttype") == BOOLOID
        and node.get("constisnull") is False
        and isinstance(value, Datum)
        and any(value.data)  # a by-value Datum: true is 1 in its first byte (little-endian) or its last
    )


def compared_columns(tree: Node, equality_operators: frozenset[int]) -> list[int]:
    """Attribute numbers of the policy's table's columns compared with `=` to something else, in tree order.

    Only the expression's own level is looked at: inside a subquery, level-0 columns are the subquery's tables,
    and a correlated reference to the policy's table there is a per-row filter an index on it would not serve.
    A column under a binary-compatible cast (``varchar_col = 'x'::text``) still counts: the index applies.
    """
    found: list[int] = []
    for node in _nodes_outside_subqueries(tree):
        if node.name != "OPEXPR" or node.get("opno") not in equality_operators:
            continue
        args = node.get("args")
        if not isinstance(args, tuple) or len(args) != 2:
            continue
        left, right = (_own_column(arg) for arg in args)
        if left is not None and right is None:
            found.append(left)
        elif right is not None and left is None:
            found.append(right)
    return found


def _own_column(value: Any) -> int | None:
    while isinstance(value, Node) and value.name == "RELABELTYPE":
        value = value.get("arg")
    if (
        isinstance(value, Node)
        and value.name == "VAR"
        and value.get("varno") == POLICY_TABLE_VARNO
        and value.get("varlevelsup") == 0
        and isinstance(value.get("varattno"), int)
        and value.get("varattno") > 0
    ):
        attno: int = value.get("varattno")
        return attno
    return None


def _nodes_outside_subqueries(tree: Node) -> Iterator[Node]:
    stack: list[Any] = [tree]
    while stack:
        value = stack.pop()
        if isinstance(value, Node):
            if value.name == "QUERY":
                continue
            yield value
            stack.extend(reversed(list(value.fields.values())))
        elif isinstance(value, tuple):
            stack.extend(reversed(value))
