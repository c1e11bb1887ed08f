"""Indexes that could serve a plan: from its scans' filters, its join keys and its sort keys.

EXPLAIN prints conditions as deparsed SQL (``((u."isPremium" = $1) AND (u.credits > $2))``); the advisor reads the
comparisons of a column with a value out of that text and keeps only names that are columns of the scanned table,
so a misreading can only lose a candidate, never invent a column. Equality columns come first, then one range
column or the sort keys; a comparison with a constant (``IS NULL``, a boolean column on its own) makes it partial;
when the scan returns few more columns, a variant INCLUDEs them so an index-only scan becomes possible.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..model.names import QualifiedName
from .explain import nodes
from .workload import Table, Workload

SCANS = frozenset({"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"})
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_REFERENCE = rf"(?:{_IDENT}\.)?({_IDENT})"
# a column (maybe cast), an operator, then anything: what a filter compares
_COMPARISON = re.compile(
    rf"\(*{_REFERENCE}\)?(?:::[\w ]+(?:\[\])?)?\)?\s+(=|<>|<=|>=|<|>|~~\*?|~~|IS NOT NULL|IS NULL)"
)
_BARE_BOOLEAN = re.compile(rf"^\(*(?:NOT\s+)?{_REFERENCE}\)*$")
_SORT_KEY = re.compile(rf"^\(*{_REFERENCE}\)*(?:\s+(DESC|ASC))?(?:\s+NULLS\s+(FIRST|LAST))?$")
_JSON_OPERATOR = re.compile(rf"{_REFERENCE}\)?\s*(->>|->|#>>|#>|@>|\?)")
RANGE = frozenset({"<", ">", "<=", ">=", "~~"})
MAX_INCLUDED = 3


def unquote(identifier: str) -> str:
    return identifier[1:-1].replace('""', '"') if identifier.startswith('"') else identifier


@dataclass(frozen=True)
class KeyColumn:
    column: str
    descending: bool = False
    nulls_first: bool | None = None  # None: the default for the direction


@dataclass(frozen=True)
class Candidate:
    table: QualifiedName
    keys: tuple[KeyColumn, ...]
    where: tuple[
        tuple[str, str], ...
    ] = ()  # a partial index's predicate: (column, "IS NULL" | "IS NOT NULL" | "true" | "false"), ANDed
    include: tuple[str, ...] = ()
    method: str = "btree"
    reason: str = ""
    equal: frozenset[str] = frozenset()  # the key columns the statement compares with `=`

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(key.column for key in self.keys)


@dataclass
class Scan:
    """One scan of a table in a plan, with what it compares, sorts by and returns."""

    table: Table
    alias: str
    equal: list[str] = field(default_factory=list)
    ranged: list[str] = field(default_factory=list)
    constant: list[tuple[str, str]] = field(default_factory=list)  # compared with no parameter: IS NULL, a boolean
    sort: list[KeyColumn] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    json: set[str] = field(default_factory=set)
    conditions: list[str] = field(default_factory=list)  # as EXPLAIN printed them: a policy's calls show here
    containment: set[str] = field(default_factory=set)


def scans(root: dict[str, Any], workload: Workload) -> list[Scan]:
    """The scans of a plan's tables, with the sort keys of a Sort that orders a single scan."""
    found: list[Scan] = []
    by_alias: dict[str, Scan] = {}
    for node in nodes(root):
        if node.get("Node Type") not in SCANS or "Relation Name" not in node:
            continue
        table = workload.table(node.get("Schema"), node["Relation Name"])
        if table is None:
            continue
        scan = Scan(table, node.get("Alias", node["Relation Name"]))
        for key in ("Filter", "Index Cond", "Recheck Cond"):
            if key in node:
                scan.conditions.append(node[key])
                _read_condition(scan, node[key])
        scan.output = [column for text in node.get("Output", ()) if (column := _column_of(text, scan)) is not None]
        found.append(scan)
        by_alias[scan.alias] = scan
    for node in nodes(root):
        for key in ("Hash Cond", "Merge Cond", "Join Filter"):
            if key in node:
                _read_join(node[key], by_alias)
        if node.get("Node Type") == "Sort" or node.get("Node Type") == "Incremental Sort":
            under = [scan for scan in found if _under(node, scan.alias)]
            if len(under) == 1:
                keys = [_sort_key(text, under[0]) for text in node.get("Sort Key", ())]
                if keys and all(key is not None for key in keys):
                    under[0].sort = [key for key in keys if key is not None]
    return found


def _under(node: dict[str, Any], alias: str) -> bool:
    return any(n.get("Alias") == alias and n.get("Node Type") in SCANS for n in nodes(node))


def _column_of(text: str, scan: Scan) -> str | None:
    match = re.fullmatch(_REFERENCE, text.strip())
    if match is None:
        return None
    column = unquote(match.group(1))
    return column if column in scan.table.columns else None


def _read_condition(scan: Scan, text: str) -> None:
    for term in _conjuncts(text):
        for match in _JSON_OPERATOR.finditer(term):
            column = unquote(match.group(1))
            if column in scan.table.columns:
                scan.json.add(column)
                if match.group(2) in ("@>", "?"):
                    scan.containment.add(column)
        compared = _COMPARISON.match(term)
        if compared is not None:
            column, operator = unquote(compared.group(1)), compared.group(2)
            if column not in scan.table.columns or "->" in term or "#>" in term:
                continue
            if operator in ("IS NULL", "IS NOT NULL"):
                _add(scan.constant, (column, operator))
            elif operator == "=":
                _add(scan.equal, column)
            elif operator in RANGE or operator.startswith("~~"):
                _add(scan.ranged, column)
            continue
        bare = _BARE_BOOLEAN.match(term)
        if bare is not None and unquote(bare.group(1)) in scan.table.columns:
            column = unquote(bare.group(1))
            if scan.table.columns[column] == "boolean":
                _add(scan.constant, (column, "false" if term.lstrip("(").startswith("NOT ") else "true"))


def _read_join(text: str, by_alias: dict[str, Scan]) -> None:
    for term in _conjuncts(text):
        sides = re.fullmatch(rf"\(*({_IDENT})\.({_IDENT})\)?\s*=\s*\(?({_IDENT})\.({_IDENT})\)*", term)
        if sides is None:
            continue
        for alias, column in ((sides.group(1), sides.group(2)), (sides.group(3), sides.group(4))):
            scan = by_alias.get(unquote(alias))
            if scan is not None and unquote(column) in scan.table.columns:
                _add(scan.equal, unquote(column))


def _sort_key(text: str, scan: Scan) -> KeyColumn | None:
    match = _SORT_KEY.match(text.strip())
    if match is None or unquote(match.group(1)) not in scan.table.columns:
        return None
    descending = match.group(2) == "DESC"
    nulls = match.group(3)
    return KeyColumn(unquote(match.group(1)), descending, None if nulls is None else nulls == "FIRST")


def _conjuncts(text: str) -> list[str]:
    """The terms of a top-level AND, each without its outer parentheses."""
    body = _strip(text)
    terms, depth, start, quoted = [], 0, 0, False
    index = 0
    while index < len(body):
        char = body[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and body.startswith(" AND ", index):
            terms.append(_strip(body[start:index]))
            start = index + 5
            index += 4
        index += 1
    terms.append(_strip(body[start:]))
    return [term for term in terms if term]


def _strip(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _add(columns: list[Any], column: Any) -> None:
    if column not in columns:
        columns.append(column)


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def candidates(scan: Scan) -> Iterator[Candidate]:
    """The indexes that could serve one scan, the narrowest first."""
    table = scan.table.name
    where = tuple(scan.constant)
    equal = [KeyColumn(column) for column in scan.equal]
    reason = _reason(scan)
    variants: list[tuple[KeyColumn, ...]] = []
    if equal:
        variants.append(tuple(equal))
    for column in scan.ranged:
        if column not in scan.equal:
            variants.append((*equal, KeyColumn(column)))
            break
    if scan.sort and not any(key.column in scan.equal for key in scan.sort):
        variants.append((*equal, *scan.sort))
    for keys in variants:
        yield Candidate(table, keys, where, (), "btree", reason, frozenset(scan.equal))
        extra = tuple(column for column in scan.output if column not in {key.column for key in keys})
        if 0 < len(extra) <= MAX_INCLUDED:
            yield Candidate(
                table, keys, where, extra, "btree", reason + "; INCLUDE for an index-only scan", frozenset(scan.equal)
            )
    if where and not variants and scan.sort:
        yield Candidate(table, tuple(scan.sort), where, (), "btree", reason)


def _reason(scan: Scan) -> str:
    parts = []
    if scan.equal:
        parts.append("compares " + ", ".join(map(_quote, scan.equal)) + " with =")
    if scan.ranged:
        parts.append("ranges over " + ", ".join(map(_quote, scan.ranged)))
    if scan.sort:
        parts.append(
            "sorts by " + ", ".join(_quote(key.column) + (" DESC" if key.descending else "") for key in scan.sort)
        )
    if scan.constant:
        parts.append("always with " + " AND ".join(f"{_quote(column)} {form}" for column, form in scan.constant))
    return "; ".join(parts)


def already_served(candidate: Candidate, table: Table) -> bool:
    """Whether a valid, non-partial btree index of the table already starts with the candidate's key columns, or a
    unique one's keys are all compared with `=` (the lookup finds one row already)."""
    for index in table.indexes:
        unique_lookup = index.unique and index.valid and not index.partial and None not in index.keys
        if unique_lookup and set(index.keys) <= candidate.equal:
            return True
        usable = index.valid and index.method == "btree" and not index.partial
        if usable and tuple(index.keys[: len(candidate.keys)]) == candidate.columns and not candidate.include:
            return True
    return False
