"""A reader for PostgreSQL's node-tree text (``pg_node_tree``) and the RLS InitPlan check built on it.

PostgreSQL stores parsed expressions (``pg_policy.polqual``, ``pg_attrdef.adbin``, ...) in the text format that
``outfuncs.c`` writes and ``read.c`` reads back. Letting the server parse an expression and reading that tree is
far more reliable than searching the SQL text: comments, string constants, quoting and search_path are already
resolved, and function calls carry their OIDs.

The reader is generic: it knows the token grammar, not the node structs, so node types and fields added by new
PostgreSQL versions are read like any other. It never evaluates anything.

Grammar (``read.c``'s ``pg_strtok``): tokens are separated by spaces, tabs and newlines; ``(``, ``)``, ``{``
and ``}`` are tokens of their own; a backslash makes the next character ordinary. Values:

* ``{NAME :field value :field value ...}`` -> :class:`Node`
* ``( ... )`` -> ``tuple``; ``(i 1 2)``, ``(o 123)``, ``(x 7)`` -> ``tuple[int, ...]``; ``(b 1 2)`` -> ``frozenset``
* ``<>`` -> ``None``; ``true``/``false`` -> ``bool``; integers -> ``int``; other numbers -> ``float``
* ``"text"`` (String value nodes) and bare tokens -> ``str`` (backslash escapes removed)
* ``:constvalue 4 [ 1 0 0 0 0 0 0 0 ]`` -> :class:`Datum`
* a field whose value is anything else (several items) -> :class:`Unparsed` holding the items in order
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# SubLinkType in src/include/nodes/primnodes.h (same numbering in PostgreSQL 15 through 18).
EXPR_SUBLINK = 4

# Fields that say "this reference points N query levels up"; used to tell correlated subqueries apart.
_LEVELS_UP_FIELDS = ("varlevelsup", "agglevelsup", "phlevelsup", "retlevelsup")

_WHITESPACE = " \t\n\r"
_SELF_DELIMITING = "(){}"
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_FIELD_RE = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")
_INT_LIST_MARKERS = frozenset({"i", "o", "x"})  # integer, OID and TransactionId lists
_BITMAPSET_MARKER = "b"
_POSITIONAL = ""  # key for values written before a node's first :field (no known node does this)


class NodeTreeError(ValueError):
    """The text is not well-formed node-tree text (unbalanced brackets, stray tokens, empty input)."""


@dataclass(frozen=True)
class Node:
    """One node: its tag as written (``OPEXPR``, ``FUNCEXPR``, ``QUERY``, ...) and its fields by name."""

    name: str
    fields: Mapping[str, Any] = field(hash=False)

    def get(self, key: str, default: Any = None) -> Any:
        """The field's value, or ``default`` when this node (or this server version) has no such field."""
        return self.fields.get(key, default)


@dataclass(frozen=True)
class Datum:
    """A Const's ``constvalue``: the declared length and the bytes as written (the whole Datum when by value)."""

    length: int
    data: bytes


@dataclass(frozen=True)
class Unparsed:
    """A field value this reader has no shape for; the items are kept, in order, rather than guessed at."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class _Token:
    raw: str  # as written, backslashes included: escaping changes how the token is typed
    offset: int


def _tokenize(text: str) -> Iterator[_Token]:
    """Split like ``pg_strtok``: whitespace separates, ``(){}`` stand alone, a backslash quotes the next char."""
    pos, end = 0, len(text)
    while pos < end:
        char = text[pos]
        if char in _WHITESPACE:
            pos += 1
            continue
        if char in _SELF_DELIMITING:
            yield _Token(char, pos)
            pos += 1
            continue
        start = pos
        while pos < end and text[pos] not in _WHITESPACE and text[pos] not in _SELF_DELIMITING:
            pos += 2 if text[pos] == "\\" and pos + 1 < end else 1
        yield _Token(text[start:pos], start)


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw, flags=re.DOTALL)


def _atom(raw: str) -> Any:
    """The value of a token that is not a bracket. A leading backslash always means a string (``\\1`` is text)."""
    if raw == "<>":
        return None
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        return _unescape(raw[1:-1])  # a String value node; outfuncs escapes a leading quote of bare strings
    if raw in ("true", "false"):
        return raw == "true"
    if _INT_RE.fullmatch(raw):
        return int(raw)
    if _FLOAT_RE.fullmatch(raw):
        return float(raw)
    return _unescape(raw)


class _NodeFrame:
    """A ``{...}`` being read: fields so far and the values of the field being read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: dict[str, Any] = {}
        self.current = _POSITIONAL
        self.values: list[Any] = []

    def wants_value(self) -> bool:
        # Every field writes at least one token (NULL is "<>"), so a ":word" right after a field name is that
        # field's value (e.g. an alias named ":x"), not the next field.
        return self.current != _POSITIONAL and not self.values

    def start_field(self, name: str) -> None:
        self.finish_field()
        self.current, self.values = name, []

    def finish_field(self) -> None:
        if self.current != _POSITIONAL or self.values:
            self.fields[self.current] = _field_value(self.values)

    def build(self) -> Node:
        self.finish_field()
        return Node(self.name, MappingProxyType(self.fields))


class _ListFrame:
    """A ``(...)`` being read; ``marker`` is ``i``/``o``/``x``/``b`` for integer lists and bitmapsets."""

    def __init__(self, marker: str | None) -> None:
        self.marker = marker
        self.items: list[Any] = []

    def build(self) -> tuple[Any, ...] | frozenset[int]:
        if self.marker == _BITMAPSET_MARKER:
            return frozenset(self.items)
        return tuple(self.items)


class _BytesFrame:
    """A ``[ ... ]`` Datum byte list; outDatum prints each byte as a C ``char``, so it may be negative."""

    def __init__(self) -> None:
        self.items: list[int] = []


_Frame = _NodeFrame | _ListFrame | _BytesFrame


def _field_value(values: list[Any]) -> Any:
    if len(values) == 1:
        return values[0]
    if len(values) == 2 and isinstance(values[0], int) and isinstance(values[1], bytes):
        return Datum(values[0], values[1])
    return Unparsed(tuple(values))


class _Reader:
    """Reads tokens with an explicit stack, so deeply nested expressions cannot hit Python's recursion limit."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.stack: list[_Frame] = []
        self.results: list[Any] = []

    def read(self) -> Any:
        for token in self.tokens:
            self._step(token)
        if self.stack:
            raise NodeTreeError(f"unexpected end of node tree: {len(self.stack)} bracket(s) not closed")
        if len(self.results) != 1:
            raise NodeTreeError(f"expected one value in node tree, found {len(self.results)}")
        return self.results[0]

    def _step(self, token: _Token) -> None:
        raw = token.raw
        top = self.stack[-1] if self.stack else None
        if isinstance(top, _BytesFrame):
            self._byte(token, top)
        elif raw == "{":
            self.stack.append(_NodeFrame(self._node_name(token)))
        elif raw == "(":
            self.stack.append(_ListFrame(None))
        elif raw in ("}", ")"):
            self._close(token)
        elif raw == "[" and isinstance(top, _NodeFrame):
            self.stack.append(_BytesFrame())
        elif isinstance(top, _NodeFrame) and _FIELD_RE.fullmatch(raw) and not top.wants_value():
            top.start_field(raw[1:])
        elif isinstance(top, _ListFrame) and not top.items and top.marker is None and self._is_marker(raw):
            top.marker = raw
        elif isinstance(top, _ListFrame) and top.marker is not None:
            top.items.append(self._integer(token))
        else:
            self._emit(_atom(raw))

    def _node_name(self, token: _Token) -> str:
        name = next(self.tokens, None)
        if name is None or name.raw in ("{", "}", "(", ")"):
            raise NodeTreeError(f"node at offset {token.offset} has no name")
        return _unescape(name.raw)

    @staticmethod
    def _is_marker(raw: str) -> bool:
        return raw in _INT_LIST_MARKERS or raw == _BITMAPSET_MARKER

    @staticmethod
    def _integer(token: _Token) -> int:
        if not _INT_RE.fullmatch(token.raw):
            raise NodeTreeError(f"expected an integer at offset {token.offset}, found {token.raw!r}")
        return int(token.raw)

    def _byte(self, token: _Token, frame: _BytesFrame) -> None:
        if token.raw != "]":
            frame.items.append(self._integer(token) & 0xFF)
            return
        self.stack.pop()
        self._emit(bytes(frame.items))

    def _close(self, token: _Token) -> None:
        expected = _NodeFrame if token.raw == "}" else _ListFrame
        if not self.stack or not isinstance(self.stack[-1], expected):
            raise NodeTreeError(f"unbalanced {token.raw!r} at offset {token.offset}")
        frame = self.stack.pop()
        assert isinstance(frame, _NodeFrame | _ListFrame)
        self._emit(frame.build())

    def _emit(self, value: Any) -> None:
        if not self.stack:
            self.results.append(value)
            return
        top = self.stack[-1]
        if isinstance(top, _NodeFrame):
            top.values.append(value)
        elif isinstance(top, _ListFrame):
            top.items.append(value)


def read_node_text(text: str) -> Any:
    """Read any node-tree text: a node, a list of nodes (e.g. ``pg_rewrite.ev_action``) or a single value."""
    return _Reader(text).read()


def parse_node_tree(text: str) -> Node:
    """Read node-tree text whose top level is one node, as in ``polqual``, ``adbin`` or ``indexprs`` items."""
    value = read_node_text(text)
    if not isinstance(value, Node):
        raise NodeTreeError(f"expected a node at the top of the tree, found {type(value).__name__}")
    return value


def _children(value: Any) -> Iterator[Any]:
    """The values directly inside a node or list, in order."""
    if isinstance(value, Node):
        yield from value.fields.values()
    elif isinstance(value, tuple | Unparsed):
        yield from value.items if isinstance(value, Unparsed) else value


def _is_correlated(subselect: Any) -> bool:
    """Whether a sublink's query refers to a query level outside it (then it is a per-row SubPlan).

    Depth counts the QUERY nodes entered inside the sublink, so the sublink's own query is depth 0 and a
    reference with ``varlevelsup`` (or ``agglevelsup``, ...) greater than the depth points outside.
    """
    stack: list[tuple[Any, int]] = [(subselect, -1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Node):
            if value.name == "QUERY":
                depth += 1
            if any(isinstance(value.get(key), int) and value.get(key) > depth for key in _LEVELS_UP_FIELDS):
                return True
        stack.extend((child, depth) for child in _children(value))
    return False


def _is_initplan_sublink(node: Node) -> bool:
    """A scalar subquery that PostgreSQL runs once per query: EXPR_SUBLINK not referring to outer rows."""
    return (
        node.name == "SUBLINK" and node.get("subLinkType") == EXPR_SUBLINK and not _is_correlated(node.get("subselect"))
    )


def function_calls_outside_initplan(tree: Node, function_oids: set[int]) -> list[int]:
    """Locations of calls (FUNCEXPR) of ``function_oids`` that PostgreSQL may evaluate once per row.

    A call is protected only when it sits inside the subselect of an uncorrelated scalar subquery
    (EXPR_SUBLINK), which the planner turns into an InitPlan. Calls inside EXISTS, IN/ANY, ALL or ARRAY
    subqueries, or inside a correlated scalar subquery, run once per execution of that subplan, i.e. per row,
    so they are reported; this matches the Supabase advice to write ``(select auth.uid())``. Operators,
    aggregates and calls hidden inside SQL function bodies are not looked at.

    Returns the ``location`` of each reported call in tree order: on PostgreSQL 15 a byte offset into the whole
    query string that created the expression (a script's offsets count from the script's start); -1 when
    unknown, which is every call on PostgreSQL 18, whose catalog trees no longer keep locations.
    """
    found: list[int] = []
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        value, protected = stack.pop()
        if isinstance(value, Node):
            if value.name == "FUNCEXPR" and not protected and value.get("funcid") in function_oids:
                location = value.get("location")
                found.append(location if isinstance(location, int) else -1)
            if _is_initplan_sublink(value):
                children = [(child, protected or key == "subselect") for key, child in value.fields.items()]
                stack.extend(reversed(children))
                continue
        # Reversed so that the stack pops children in the order they were written (tree order).
        stack.extend((child, protected) for child in reversed(list(_children(value))))
    return found
