"""Reading the desired directory: YAML documents into plain data that remembers where every value was written.

PyYAML's ``safe_load`` forgets positions, and messages must say ``file:line:col``. So the files are only
*composed* (libyaml builds the node tree, each node with its start mark) and the tree is turned into dicts,
lists and scalars here, recording the position of every path on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import InvalidDesiredState, PgstateError, SourceLocation

PathKey = tuple[str | int, ...]
"""Where a value sits in a document: keys and list indices from the root, e.g. ("indexes", 0, "name")."""

# libyaml's composer is an order of magnitude faster than the pure-Python one; both give the same nodes.
try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_ALIAS_EXPANSION_LIMIT = 100_000  # far beyond any real desired file, far below exhausting memory

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = ("null", "bool", "int", "float")
# A plain `2020-01-01` is a timestamp to YAML 1.1, but no value of the format is a date, and JSON Schema has no
# date type: it stays the text it was written as (a setting value, or a type error the schema check words).
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

# The constructors safe loading uses, so that `yes`, `0x1F`, `1_000`, `.inf`, `~` mean what they mean to
# every other YAML 1.1 tool.
_CONSTRUCTOR = SafeConstructor()
_SCALAR_CONSTRUCTORS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    f"tag:yaml.org,2002:{name}": SafeConstructor.yaml_constructors[f"tag:yaml.org,2002:{name}"] for name in _SCALAR_TAGS
}


# A position is one int, (line << _COLUMN_BITS) | column: a large tree records one per value, and an int costs
# a third of a (line, column) tuple's memory and nothing to the cycle collector, which walks every tuple.
_COLUMN_BITS = 32
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1


def position(mark: yaml.Mark) -> int:
    """A mark's 1-based line and column, packed."""
    return ((mark.line + 1) << _COLUMN_BITS) | (mark.column + 1)


_RESOLVED_TAGS: dict[tuple[Any, ...], str] = {}
_RESOLVED_TAGS_LIMIT = 100_000  # bounds the memory a huge file with unique values can take


class _Loader(_BaseLoader):
    """The safe loader with tag resolution memoised.

    Resolving a plain scalar's tag runs a chain of Python regular expressions; on large desired trees it
    takes as long as libyaml's parsing itself, and the same keys and values recur in every document.
    """

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        key = (kind, value, implicit)
        tag = _RESOLVED_TAGS.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]  # untyped stub
            if len(_RESOLVED_TAGS) < _RESOLVED_TAGS_LIMIT:
                _RESOLVED_TAGS[key] = tag
        return tag


@dataclass(frozen=True)
class Document:
    """One YAML document of a desired file, as plain data, with the position of every value in it."""

    file: str  # as messages show it: relative to the working directory when possible
    index: int  # 0-based position in its file, counting empty documents too, as `---` separators show
    data: dict[str, Any]
    # path -> position (see ``position``), 1-based: a mapping entry is located at its key, a list item at the item.
    locations: dict[PathKey, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def kind(self) -> str | None:
        """The document's first key (``table``, ``database``, ...), or None for an empty mapping."""
        return next(iter(self.data), None)

    def locate(self, path: PathKey) -> SourceLocation:
        """Where ``path`` was written; for a missing path, where its deepest existing parent was."""
        found = self.locations.get(path)
        if found is not None:  # the common case, without slicing
            return SourceLocation(self.file, found >> _COLUMN_BITS, found & _COLUMN_MASK)
        for end in range(len(path) - 1, -1, -1):
            found = self.locations.get(path[:end])
            if found is not None:
                return SourceLocation(self.file, found >> _COLUMN_BITS, found & _COLUMN_MASK)
        return SourceLocation(self.file, 1, 1)


def load_documents(desired_dir: Path) -> list[Document]:
    """Every non-empty YAML document of every ``*.yaml``/``*.yml`` under ``desired_dir``, in path order.

    Raises :class:`InvalidDesiredState` with every syntax error (one per file, since parsing cannot go on
    after one), duplicate key and unsupported construct found, each located in its file.
    """
    if not desired_dir.is_dir():
        raise PgstateError(
            f"desired directory {desired_dir} does not exist or is not a directory",
            hint="run from the repository root or pass --desired DIR",
        )
    documents: list[Document] = []
    problems: list[PgstateError] = []
    for path in desired_files(desired_dir):
        documents.extend(_load_file(path, _display_path(path), problems))
    if problems:
        raise InvalidDesiredState(problems)
    return documents


def desired_files(desired_dir: Path) -> list[Path]:
    """The YAML files under ``desired_dir``, recursively, sorted by their path relative to it."""
    files = [path for pattern in ("*.yaml", "*.yml") for path in desired_dir.rglob(pattern) if path.is_file()]
    return sorted(files, key=lambda path: path.relative_to(desired_dir).parts)


def _display_path(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_text(text: str, display: str) -> list[Document]:
    """The documents of one YAML stream held in memory (a recorded pre-run state), shown as ``display``."""
    problems: list[PgstateError] = []
    documents = _load_stream(text, display, problems)
    if problems:
        raise InvalidDesiredState(problems)
    return documents


def _load_file(path: Path, display: str, problems: list[PgstateError]) -> list[Document]:
    try:
        # utf-8-sig: editors on Windows like to start files with a byte-order mark.
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.append(
            PgstateError(
                f"not UTF-8 text: {error.reason} at byte {error.start}", location=SourceLocation(display, 1, 1)
            )
        )
        return []
    return _load_stream(text, display, problems)


def _load_stream(text: str, display: str, problems: list[PgstateError]) -> list[Document]:
    documents: list[Document] = []
    try:
        for index, root in enumerate(yaml.compose_all(text, Loader=_Loader)):
            document = _build_document(root, display, index, problems)
            if document is not None:
                documents.append(document)
    except yaml.MarkedYAMLError as error:
        problems.append(_syntax_error(error, display))
    except yaml.YAMLError as error:  # e.g. a control character the reader refuses; it has no mark
        problems.append(PgstateError(f"invalid YAML: {error}", location=SourceLocation(display, 1, 1)))
    return documents


def _syntax_error(error: yaml.MarkedYAMLError, display: str) -> PgstateError:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    location = SourceLocation(display, line, column)
    problem = error.problem or "malformed YAML"
    context = ""
    if error.context:
        # libyaml notices a problem where parsing cannot go on, often lines after the real mistake (an
        # unclosed `{`): the line where the construct began points the reader to it.
        began = error.context_mark
        since = f" that began on line {began.line + 1}" if began and mark and began.line != mark.line else ""
        context = f" ({error.context}{since})"
    return PgstateError(
        f"invalid YAML: {problem}{context}",
        location=location,
        hint="check the indentation and quoting around this place",
    )


def _build_document(root: Node | None, display: str, index: int, problems: list[PgstateError]) -> Document | None:
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
        data = builder.mapping(root, ())
    except RecursionError:
        problems.append(PgstateError("a YAML alias refers to itself", location=builder.mark(root)))
        return None
    return Document(file=display, index=index, data=data, locations=builder.locations)


class _Builder:
    """Turns one document's node tree into plain data, recording locations and problems as it goes."""

    def __init__(self, display: str, problems: list[PgstateError]):
        self.display = display
        self.problems = problems
        self.locations: dict[PathKey, int] = {}
        self.built: dict[int, Any] = {}  # id(collection node) -> its value; the nodes outlive the walk
        self.sizes: dict[int, int] = {}  # id(collection node) -> its size with aliases expanded
        self.expanded = 0  # values brought in by aliases so far

    def mark(self, node: Node) -> SourceLocation:
        return SourceLocation(self.display, node.start_mark.line + 1, node.start_mark.column + 1)

    def value(self, node: Node, path: PathKey) -> Any:
        # Exact type checks: this runs for every node of every file, and the node classes are final.
        if type(node) is ScalarNode:
            if node.tag == _STR_TAG:
                return node.value
            return self.scalar(node)
        # An alias reaches the same node again: reuse its value (as safe loading shares it) rather than
        # build it anew, which would let a few nested aliases expand exponentially. Inner locations are
        # recorded under the anchor's path only; locate() of a path through the alias points at the alias.
        built = self.built.get(id(node))
        if built is not None:
            return self.reuse(node, built)
        built = self.sequence(node, path) if type(node) is SequenceNode else self.mapping(node, path)
        self.built[id(node)] = built
        return built

    def reuse(self, node: Node, built: Any) -> Any:
        """The value of an aliased collection, within a budget: what reads it later (JSON Schema's
        messages print values whole) must not meet a billion-laughs expansion."""
        self.expanded += self.size(node)
        if self.expanded <= _ALIAS_EXPANSION_LIMIT:
            return built
        if self.expanded - self.size(node) <= _ALIAS_EXPANSION_LIMIT:  # report once per document
            self.problems.append(
                PgstateError(
                    f"aliases of this YAML anchor expand the document beyond {_ALIAS_EXPANSION_LIMIT:,} values",
                    location=self.mark(node),  # an alias is its anchor's node: libyaml keeps no alias position
                    hint="write the repeated parts out, or use fewer nested aliases",
                )
            )
        return None

    def size(self, node: Node) -> int:
        """How many nodes ``node`` stands for once every alias inside it is expanded."""
        known = self.sizes.get(id(node))
        if known is None:
            if type(node) is ScalarNode:
                return 1
            children = node.value if type(node) is SequenceNode else [part for pair in node.value for part in pair]
            known = 1 + sum(self.size(child) for child in children)
            self.sizes[id(node)] = known
        return known

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
            return construct(_CONSTRUCTOR, node)
        except (yaml.YAMLError, ValueError) as error:  # e.g. `!!int abc`
            self.problems.append(PgstateError(f"invalid {node.tag} value: {error}", location=self.mark(node)))
            return node.value

    def sequence(self, node: Node, path: PathKey) -> list[Any]:
        items: list[Any] = []
        locations = self.locations
        for position, item in enumerate(node.value):
            item_path = (*path, position)
            mark = item.start_mark
            locations[item_path] = ((mark.line + 1) << _COLUMN_BITS) | (mark.column + 1)  # position(), inlined
            items.append(self.value(item, item_path))
        return items

    def mapping(self, node: Node, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[tuple[Node, Node]] = []
        locations = self.locations
        for key_node, value_node in node.value:
            key = key_node.value
            if type(key_node) is not ScalarNode or key_node.tag == _MERGE_TAG or key in result:
                self.unusual_entry(result, key_node, value_node, path, merged)
                continue
            # The common case, inlined: this loop dominates the time to load a large tree.
            key_path = (*path, key)
            mark = key_node.start_mark
            locations[key_path] = ((mark.line + 1) << _COLUMN_BITS) | (mark.column + 1)  # position(), inlined
            if type(value_node) is ScalarNode and value_node.tag == _STR_TAG:
                result[key] = value_node.value
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
            merged.extend(self.merged_entries(value_node))
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

    def merged_entries(self, node: Node) -> list[tuple[Node, Node]]:
        """The entries a YAML merge key (``<<: *defaults`` or ``<<: [*a, *b]``) brings, earlier ones first."""
        sources = node.value if type(node) is SequenceNode else [node]
        entries: list[tuple[Node, Node]] = []
        for source in sources:
            if type(source) is not MappingNode:
                self.problems.append(
                    PgstateError("`<<` must merge a mapping or a list of mappings", location=self.mark(source))
                )
                continue
            nested: list[tuple[Node, Node]] = []
            for key_node, value_node in source.value:
                if key_node.tag == _MERGE_TAG:
                    nested.extend(self.merged_entries(value_node))
                else:
                    entries.append((key_node, value_node))
            entries.extend(nested)
        return entries
