"""YAML node trees into plain data that remembers where every value was written.

PyYAML's ``safe_load`` forgets positions, and messages must say ``file:line:col``. So the files are only
*composed* (libyaml builds the node tree, each node with its start mark, ``source.loader``) and the tree is
turned into dicts, lists and scalars here, recording the position of every path on the way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import PgstateError, SourceLocation
from ..model.texts import shared_text as _shared
from .problems import FileProblems

PathKey = tuple[str | int, ...]
"""Where a value sits in a document: keys and list indices from the root, e.g. ("indexes", 0, "name")."""

_ALIAS_EXPANSION_LIMIT = 100_000  # far beyond any real desired file, far below exhausting memory
MAX_DEPTH = 64  # the format nests five levels deep (indexes[0].columns[0].column); JSON Schema's checks recurse

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = ("null", "bool", "int", "float")
# A plain `2020-01-01` is a timestamp to YAML 1.1, but no value of the format is a date, and JSON Schema has no
# date type: it stays the text it was written as (a setting value, or a type error the schema check words).
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

# The constructors safe loading uses, so that `yes`, `0x1F`, `1_000`, `~` mean what they mean to every other
# YAML 1.1 tool (`.inf` and `.nan` too, which are then refused: JSON, and so the format, has no such number).
_CONSTRUCTOR = SafeConstructor()
_SCALAR_CONSTRUCTORS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    f"tag:yaml.org,2002:{name}": SafeConstructor.yaml_constructors[f"tag:yaml.org,2002:{name}"] for name in _SCALAR_TAGS
}


# A position is one int, (line << _COLUMN_BITS) | column: a large tree records one per value, and an int costs
# a third of a (line, column) tuple's memory and nothing to the cycle collector, which walks every tuple.
_COLUMN_BITS = 32
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1


# Paths shared by every document that has them: ("indexes", 0, "name") recurs in each of thousands of table
# files, and one tuple for all of them saves some 80 bytes a value (17 MB at 5,000 tables). Bounded, as the
# tag cache of source.loader is: a file of unique keys must not grow it without end.
_PATHS: dict[PathKey, PathKey] = {}
_PATHS_LIMIT = 100_000


def position(mark: yaml.Mark) -> int:
    """A mark's 1-based line and column, packed."""
    return ((mark.line + 1) << _COLUMN_BITS) | (mark.column + 1)


@dataclass(frozen=True)
class Document:
    """One YAML document of a desired file, as plain data, with the position of every value in it."""

    file: str  # as messages show it: relative to the working directory when possible
    index: int  # 0-based position in its file, counting empty documents too, as `---` separators show
    data: dict[str, Any]
    # path -> position (see ``position``), 1-based: a mapping entry is located at its key, a list item at the item.
    locations: dict[PathKey, int] = field(default_factory=dict, compare=False, repr=False)
    # The YAML stream the document came from (one string shared by the documents of a file), from which
    # ``locations`` is built again after ``release_locations``.
    source: str | None = field(default=None, compare=False, repr=False)

    def release_locations(self) -> None:
        """Forgets the positions until one is asked for: once the specs hold the locations they report (each
        spec keeps its own), the map of every path is rarely read again, and at 5,000 tables it is some 25 MB.
        A later ``locate`` composes the document again from ``source``, so its answer is the same."""
        if self.source is not None:
            self.locations.clear()

    def _located(self) -> dict[PathKey, int]:
        if not self.locations and self.source is not None:
            from .loader import compose_document  # the loader builds documents with this module

            self.locations.update(compose_document(self.source, self.index, self.file).locations)
        return self.locations

    @property
    def kind(self) -> str | None:
        """The document's first key (``table``, ``database``, ...), or None for an empty mapping."""
        return next(iter(self.data), None)

    def locate(self, path: PathKey) -> SourceLocation:
        """Where ``path`` was written; for a missing path, where its deepest existing parent was."""
        locations = self._located()
        found = locations.get(path)
        if found is not None:  # the common case, without slicing
            return SourceLocation(self.file, found >> _COLUMN_BITS, found & _COLUMN_MASK)
        for end in range(len(path) - 1, -1, -1):
            found = locations.get(path[:end])
            if found is not None:
                return SourceLocation(self.file, found >> _COLUMN_BITS, found & _COLUMN_MASK)
        return SourceLocation(self.file, 1, 1)


def build_document(
    root: Node | None, display: str, index: int, problems: FileProblems, source: str | None = None
) -> Document | None:
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
        return None  # an empty document, e.g. after a trailing `---`
    builder = _Builder(display, problems)
    if not isinstance(root, MappingNode):
        problems.append(
            PgstateError(
                "a document must be a mapping whose first key is its kind (table, database, function, view)",
                location=builder.mark(root),
            )
        )
        return None
    start = root.start_mark
    builder.locations[()] = position(start)
    try:
        data = builder.value(root, ())
    except RecursionError:  # not met: nesting, aliases and merges are bounded; still, never a traceback
        problems.append(PgstateError("a YAML alias refers to itself", location=builder.mark(root)))
        return None
    return Document(file=display, index=index, data=data, locations=builder.locations, source=source)


class _Builder:
    """Turns one document's node tree into plain data, recording locations and problems as it goes."""

    def __init__(self, display: str, problems: FileProblems):
        self.display = display
        self.problems = problems
        self.locations: dict[PathKey, int] = {}
        self.built: dict[int, Any] = {}  # id(collection node) -> its value; the nodes outlive the walk
        self.building: set[int] = set()  # id(collection node) of those being built: an alias of one is a cycle
        # id(collection node) -> its size with aliases expanded, and how deep it nests
        self.extents: dict[int, tuple[int, int]] = {}
        self.merges: dict[int, dict[Any, tuple[Node, Node]]] = {}  # id(mapping) -> the entries it brings to `<<`
        self.merging: set[int] = set()
        self.expanded = 0  # values brought in by aliases so far

    def mark(self, node: Node) -> SourceLocation:
        return SourceLocation(self.display, node.start_mark.line + 1, node.start_mark.column + 1)

    def value(self, node: Node, path: PathKey) -> Any:
        # Exact type checks: this runs for every node of every file, and the node classes are final.
        if type(node) is ScalarNode:
            if node.tag == _STR_TAG:
                return _shared(node.value)
            return self.scalar(node)
        # An alias reaches the same node again: reuse its value (as safe loading shares it) rather than
        # build it anew, which would let a few nested aliases expand exponentially. Inner locations are
        # recorded under the anchor's path only; locate() of a path through the alias points at the alias.
        built = self.built.get(id(node))
        if built is not None:
            return self.reuse(node, built, path)
        if id(node) in self.building:
            self.problems.append(
                PgstateError(
                    "a YAML alias refers to itself: its anchor is on a list or mapping that holds it",
                    location=self.mark(node),  # an alias is its anchor's node: libyaml keeps no alias position
                    hint="write the value out instead of the alias",
                )
            )
            return None
        if len(path) >= MAX_DEPTH:
            self.problems.append(self.too_deep(node))
            return None
        self.building.add(id(node))
        built = self.sequence(node, path) if type(node) is SequenceNode else self.mapping(node, path)
        self.building.discard(id(node))
        self.built[id(node)] = built
        return built

    def too_deep(self, node: Node) -> PgstateError:
        return PgstateError(
            f"lists and mappings nested more than {MAX_DEPTH} levels deep",
            location=self.mark(node),
            hint="the format nests a few levels: check the indentation and the brackets",
        )

    def reuse(self, node: Node, built: Any, path: PathKey) -> Any:
        """The value of an aliased collection, within a budget: what reads it later (JSON Schema's
        messages print values whole) must not meet a billion-laughs expansion, nor nesting without end."""
        size, height = self.extent(node)
        if len(path) + height > MAX_DEPTH:
            self.problems.append(self.too_deep(node))
            return None
        self.expanded += size
        if self.expanded <= _ALIAS_EXPANSION_LIMIT:
            return built
        if self.expanded - size <= _ALIAS_EXPANSION_LIMIT:  # report once per document
            self.problems.append(
                PgstateError(
                    f"aliases of this YAML anchor expand the document beyond {_ALIAS_EXPANSION_LIMIT:,} values",
                    location=self.mark(node),  # an alias is its anchor's node: libyaml keeps no alias position
                    hint="write the repeated parts out, or use fewer nested aliases",
                )
            )
        return None

    def extent(self, node: Node) -> tuple[int, int]:
        """How many nodes ``node`` stands for once every alias inside it is expanded, and how deep it nests.

        Without recursion: an anchored tree may nest as deep as libyaml lets it (1,000 levels)."""
        if type(node) is ScalarNode:
            return 1, 0
        extents = self.extents
        stack: list[tuple[Node, bool]] = [(node, False)]
        while stack:
            current, children_done = stack.pop()
            if not children_done and id(current) in extents:
                continue
            children = current.value if type(current) is SequenceNode else [p for pair in current.value for p in pair]
            if children_done:
                parts = [extents.get(id(child), (1, 0)) for child in children]
                extents[id(current)] = (1 + sum(size for size, _ in parts), 1 + max((h for _, h in parts), default=0))
            else:
                extents[id(current)] = (1, 0)  # what a node that holds itself counts for (reported elsewhere)
                stack.append((current, True))
                stack.extend((child, False) for child in children if type(child) is not ScalarNode)
        return extents[id(node)]

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            return node.value
        construct = _SCALAR_CONSTRUCTORS.get(node.tag)
        if construct is None:
            self.problems.append(
                PgstateError(
                    f"unsupported YAML tag {node.tag}",
                    location=self.mark(node),
                    hint="write plain strings, numbers, booleans, lists and mappings",
                )
            )
            return node.value
        try:
            value = construct(_CONSTRUCTOR, node)
        except (yaml.YAMLError, ValueError, KeyError, IndexError):  # `!!int abc`, `!!bool t`, `!!int ""`
            self.problems.append(
                PgstateError(
                    f"{node.value!r} is not a value of the YAML tag {node.tag}",
                    location=self.mark(node),
                    hint="remove the tag, or write a value of its type",
                )
            )
            return node.value
        if type(value) is float and not math.isfinite(value):  # `.inf`, `.nan`, `1e999`: JSON has no such number
            self.problems.append(
                PgstateError(
                    f"{node.value!r} is not a finite number",
                    location=self.mark(node),
                    hint="write a finite number, or quote it to mean the text",
                )
            )
            return node.value
        return value

    def sequence(self, node: Node, path: PathKey) -> list[Any]:
        items: list[Any] = []
        locations = self.locations
        for position, item in enumerate(node.value):
            item_path = (*path, position)
            item_path = _PATHS.setdefault(item_path, item_path) if len(_PATHS) < _PATHS_LIMIT else item_path
            mark = item.start_mark
            locations[item_path] = ((mark.line + 1) << _COLUMN_BITS) | (mark.column + 1)  # position(), inlined
            items.append(self.value(item, item_path))
        return items

    def mapping(self, node: Node, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[tuple[Node, Node]] = []
        locations = self.locations
        for key_node, value_node in node.value:
            key = _shared(key_node.value) if type(key_node) is ScalarNode else key_node.value
            if type(key_node) is not ScalarNode or key_node.tag == _MERGE_TAG or key in result:
                self.unusual_entry(result, key_node, value_node, path, merged)
                continue
            # The common case, inlined: this loop dominates the time to load a large tree.
            key_path = (*path, key)
            key_path = _PATHS.setdefault(key_path, key_path) if len(_PATHS) < _PATHS_LIMIT else key_path
            mark = key_node.start_mark
            locations[key_path] = ((mark.line + 1) << _COLUMN_BITS) | (mark.column + 1)  # position(), inlined
            if type(value_node) is ScalarNode and value_node.tag == _STR_TAG:
                result[key] = _shared(value_node.value)
            else:
                result[key] = self.value(value_node, key_path)
        for key_node, value_node in merged:
            self.entry(result, key_node, value_node, path, merged=True)
        return result

    def unusual_entry(
        self, result: dict[str, Any], key_node: Node, value_node: Node, path: PathKey, merged: list[tuple[Node, Node]]
    ) -> None:
        """A merge key (kept for after the mapping's own keys), a non-scalar key or a duplicate key."""
        if key_node.tag == _MERGE_TAG:
            merged.extend(self.merged_entries(value_node, len(path)))
        else:
            self.entry(result, key_node, value_node, path, merged=False)

    def entry(self, result: dict[str, Any], key_node: Node, value_node: Node, path: PathKey, *, merged: bool) -> None:
        """Adds one key to ``result``; a merged key (``<<``) yields to a key already there."""
        key = self.key(key_node)
        if key is None:
            return
        key_path = (*path, key)
        if key in result:
            if not merged:
                first_line = self.locations[key_path] >> _COLUMN_BITS
                self.problems.append(
                    PgstateError(
                        f"duplicate key {key!r} in this mapping (first written on line {first_line})",
                        location=self.mark(key_node),
                        hint="a key may appear once per mapping: remove or merge one of them",
                    )
                )
            return
        self.locations[key_path] = position(key_node.start_mark)
        result[key] = self.value(value_node, key_path)

    def key(self, node: Node) -> str | None:
        # Keys are names (keys of the format, column, setting and parameter names), so they keep their
        # text: YAML 1.1 would otherwise turn a column called `on` or `yes` into a boolean.
        if type(node) is ScalarNode:
            return str(node.value)  # str() for mypy: a scalar's value is always text
        self.problems.append(
            PgstateError("a mapping key must be a plain name, not a list or mapping", location=self.mark(node))
        )
        return None

    def merged_entries(self, node: Node, depth: int) -> list[tuple[Node, Node]]:
        """The entries a YAML merge key (``<<: *defaults`` or ``<<: [*a, *b]``) brings, earlier ones first."""
        return list(self.merged_keys(node, depth).values())

    def merged_keys(self, node: Node, depth: int) -> dict[Any, tuple[Node, Node]]:
        if depth >= MAX_DEPTH:  # mappings that merge mappings that merge ...
            self.problems.append(self.too_deep(node))
            return {}
        sources = node.value if type(node) is SequenceNode else [node]
        entries: dict[Any, tuple[Node, Node]] = {}
        for source in sources:
            if type(source) is not MappingNode:
                self.problems.append(
                    PgstateError("`<<` must merge a mapping or a list of mappings", location=self.mark(source))
                )
                continue
            for key, entry in self.merged_from(source, depth).items():
                entries.setdefault(key, entry)  # an earlier mapping's key wins, as a key written there would
        return entries

    def merged_from(self, source: Node, depth: int) -> dict[Any, tuple[Node, Node]]:
        """The entries of one merged mapping, by key: its own, then those it merges itself. Once per mapping: a
        chain of mappings that each merge the previous one several times would expand exponentially."""
        known = self.merges.get(id(source))
        if known is not None:
            return known
        if id(source) in self.merging:
            self.problems.append(
                PgstateError("a YAML merge key (`<<`) merges a mapping into itself", location=self.mark(source))
            )
            return {}
        self.merging.add(id(source))
        own: dict[Any, tuple[Node, Node]] = {}
        nested: dict[Any, tuple[Node, Node]] = {}
        for key_node, value_node in source.value:
            if key_node.tag == _MERGE_TAG:
                for key, entry in self.merged_keys(value_node, depth + 1).items():
                    nested.setdefault(key, entry)
            else:  # a key that is not a name is reported where the entry is built: kept apart here
                key = str(key_node.value) if type(key_node) is ScalarNode else id(key_node)
                own.setdefault(key, (key_node, value_node))
        self.merging.discard(id(source))
        for key, entry in nested.items():
            own.setdefault(key, entry)
        self.merges[id(source)] = own
        return own
