"""Inputs for the fuzz test of everything a user types (tests/test_fuzz_input.py).

Desired files are drawn from the JSON Schema of the format, turned into a YAML node tree and mutated there (wrong
types, missing, unknown, misspelt and duplicate keys, anchors and aliases, merge keys, tags, styles, several and
empty documents), written out, then mutated as text and as bytes (NUL, tabs, BOMs, odd line breaks, cuts,
encodings). Byte and token soup, and small YAML bombs, come next to them. Command lines are drawn from the real
argparse parser: every verb, every option with values of its type and beyond, positionals, abbreviations, options
before the verb, junk.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import strategies as st
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pgstate.cli import parser as cli_parser
from pgstate.lint import RULES
from pgstate.source.schema import load_schema

SCHEMA = load_schema()
DEFS: dict[str, Any] = SCHEMA["$defs"]
KINDS = [branch["required"][0] for branch in SCHEMA["oneOf"]]

Y = "tag:yaml.org,2002:"
STR, NULL, MERGE = Y + "str", Y + "null", Y + "merge"


@dataclass(frozen=True)
class DesiredCase:
    """A desired directory: relative path -> bytes (a path ending in / is a directory)."""

    files: dict[str, bytes]
    verb: str = "validate"

    def __repr__(self) -> str:  # hypothesis prints falsifying examples with it: show the text
        return f"DesiredCase(verb={self.verb!r}, files={self.files!r})"


@dataclass(frozen=True)
class CliCase:
    """An argv, and whether a database is configured in the environment (lint without one lints files only)."""

    argv: list[str]
    database_env: bool = True


# --- scalars ------------------------------------------------------------------------------------------------

# Words that mean something to YAML 1.1, to PostgreSQL or to pgstate, and characters that break things.
WORDS = [
    "t", "User", "public", "id", "email", "a", "b", "lower(email)", "text", "jsonb", "numeric(6,2)", "btree",
    "gin", "authenticated", "anon", "select", "all", "definer", "plpgsql", "sql", "pg_catalog", "$user",
    "2s", "500ms", "1min", "1d", "8s", "64MB", "0.05", "on", "off", "yes", "no", "y", "n", "~", "null", "Null",
    "true", "True", "FALSE", "2020-01-01", "2001-12-14t21:59:43.10-05:00", "2002-12-14", "12:30:45", "0x1F",
    "0o17", "017", "0b101", "1_000", "190:20:30", ".inf", "-.inf", ".NaN", "1e400", "-0", "+1", "1.", "<<", "=",
    "*a", "&a", "!x", "|", ">", "%", "@", "`", "#", "'", '"', "\\", "\x00", "\t", "\ufeff", "\u2028", "\x85",
    "\x7f", "\x1b", "\ufffe", "é", "名前", "🙂", "\U0010ffff", "a" * 63, "a" * 64, "é" * 32, "é" * 31 + "e",
    "x; DROP TABLE t", "a = 1 -- ", "/* c */", "BEGIN RETURN 1; END;", "RETURN 1", "SELECT 1", "1s; x",
    " ", "", "-", "- a", "a: b", "? a", "[a]", "{a: b}", "\n", "a\nb", "\r\n", "${x}", "{{x}}",
]  # fmt: skip
SQL_TYPES = [
    "text", "jsonb", "integer", "numeric(6,2)", "varchar(40)", "character varying(100)", "timestamp(3) with time zone",
    'public."Tag"[]', "integer[]", "int[][3]", "double precision", '"we""ird"', "bit varying(8)", "x.y.z", "1abc",
    "text; x", "text -- c", "numeric(,)", '"unterminated', "é",
]  # fmt: skip


@functools.cache
def text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(WORDS),
        st.text(max_size=12),
        st.text(st.characters(codec="utf-8"), max_size=80),
        st.builds(lambda a, b: a + b, st.sampled_from(WORDS), st.sampled_from(WORDS)),
    )


@functools.cache
def numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(-10, 100),
        st.integers(),
        st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**30, 10**400]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, -0.0, 0.5, 1.0, 1e308, 5e-324]),
    )


@functools.cache
def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(text(), numbers(), st.booleans(), st.none())


@functools.cache
def junk_values() -> st.SearchStrategy[Any]:
    """Any value at all: wrong types where the schema wants another."""
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text(), inner, max_size=3)),
        max_leaves=6,
    )


# --- values from the schema ---------------------------------------------------------------------------------


@functools.cache
def _durations_in_files() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(
            lambda n, space, unit: f"{n}{space}{unit}",
            st.one_of(st.integers(0, 100), st.integers(0, 10**30)),
            st.sampled_from(["", " "]),
            st.sampled_from(["us", "ms", "s", "min", "h", "d"]),
        ),
        text(),
    )


@functools.cache
def _lint_rules() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(sorted(RULES)), st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), text())


@st.composite
def _object(
    draw: st.DrawFn,
    properties: list[tuple[str, bool, st.SearchStrategy[Any]]],
    extra: tuple[st.SearchStrategy[str], st.SearchStrategy[Any]] | None,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, required, values in properties:  # in the schema's order: a document's kind key comes first
        if required or draw(st.integers(0, 3)) == 0:
            result[key] = draw(values)
    if extra is not None:
        names, values = extra
        for _ in range(draw(st.integers(0, 3))):
            result[draw(names)] = draw(values)
    return result


def from_schema(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values the (sub)schema describes, mostly valid; where the schema is loose, the odd ones too."""
    return _from_schema(json.dumps(schema, sort_keys=True), depth)


@functools.cache
def _from_schema(key: str, depth: int) -> st.SearchStrategy[Any]:
    schema: dict[str, Any] = json.loads(key)
    if "$ref" in schema:
        target = DEFS[schema["$ref"].removeprefix("#/$defs/")]
        if schema["$ref"].endswith("/sql_type"):
            return st.one_of(st.sampled_from(SQL_TYPES), text())
        return from_schema({**{k: v for k, v in schema.items() if k != "$ref"}, **target}, depth)
    if depth > 8:
        return scalars()
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema and "type" not in schema:
            return st.one_of([from_schema(branch, depth + 1) for branch in schema[keyword]])
    types = schema.get("type", ["string", "number", "boolean", "null"])
    if isinstance(types, str):
        types = [types]
    return st.one_of([_typed(schema, name, depth) for name in types])


def _typed(schema: dict[str, Any], name: str, depth: int) -> st.SearchStrategy[Any]:
    if name == "object":
        required = set(schema.get("required", ()))
        properties = [
            (key, key in required, from_schema(sub, depth + 1)) for key, sub in schema.get("properties", {}).items()
        ]
        extra = schema.get("additionalProperties")
        names = from_schema(schema.get("propertyNames", {"type": "string"}), depth + 1)
        return _object(properties, (names, from_schema(extra, depth + 1)) if isinstance(extra, dict) else None)
    if name == "array":
        items = schema.get("items", {})
        if items.get("pattern", "").startswith("^[a-z][a-z0-9-]*"):
            return st.lists(_lint_rules(), max_size=3)
        return st.lists(from_schema(items, depth + 1), min_size=schema.get("minItems", 0), max_size=3)
    if name == "string":
        pattern = schema.get("pattern")
        if pattern and pattern.startswith("^[0-9]+ ?(us"):
            return _durations_in_files()
        if pattern and pattern.startswith("^[a-z][a-z0-9-]*"):
            return _lint_rules()
        if pattern:
            return st.one_of(st.from_regex(pattern, fullmatch=True), text())
        return text()
    if name == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.one_of(st.integers(low, high), st.integers())
    if name == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.one_of(st.floats(low, high), st.integers(low, high), numbers())
    if name == "boolean":
        return st.booleans()
    return st.none()


@functools.cache
def documents() -> st.SearchStrategy[Any]:
    """One desired document of any kind, mostly as the schema describes it."""
    return st.sampled_from(KINDS).flatmap(lambda kind: from_schema(DEFS[f"{kind}_document"]))


# --- YAML node trees and their mutations --------------------------------------------------------------------

TAGS = [
    Y + "python/object:os.system", Y + "python/object/apply:os.system", Y + "python/name:builtins.eval",
    Y + "binary", Y + "set", Y + "omap", Y + "pairs", Y + "timestamp", Y + "int", Y + "float", Y + "bool", NULL,
    STR, MERGE, Y + "value", Y + "yaml", Y + "seq", Y + "map", "!custom", "!", "tag:example.com,2000:app/x",
]  # fmt: skip


def to_node(value: Any) -> Node:
    """The node tree safe dumping would write for ``value``."""
    dumper = yaml.SafeDumper(io.StringIO())
    node: Node = dumper.represent_data(value)
    return node


def _scalar(value: Any) -> Node:
    return to_node(value)


def _nodes(roots: list[Node]) -> list[Node]:
    """Every node reachable from the roots, once each (a mutation may have made aliases or cycles)."""
    seen: dict[int, Node] = {}
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        if isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, MappingNode):
            for key, value in reversed(node.value):
                stack.extend([value, key])
    return list(seen.values())


def _edit(word: str, draw: st.DrawFn) -> str:
    if not word:
        return draw(text())
    at = draw(st.integers(0, len(word) - 1))
    how = draw(st.sampled_from(["drop", "double", "swap", "upper", "replace"]))
    if how == "drop":
        return word[:at] + word[at + 1 :]
    if how == "double":
        return word[: at + 1] + word[at:]
    if how == "swap" and at + 1 < len(word):
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if how == "upper":
        return word.upper()
    return word[:at] + draw(st.characters()) + word[at + 1 :]


def mutate(draw: st.DrawFn, roots: list[Node]) -> None:
    """Apply a few random mutations to the node trees, in place."""
    for _ in range(draw(st.integers(0, 4)) if roots else 0):
        nodes = _nodes(roots)
        node = nodes[draw(st.integers(0, len(nodes) - 1))]
        op = draw(
            st.sampled_from(
                [
                    "retag", "restyle", "replace", "delete", "duplicate", "unknown", "typo", "alias", "merge",
                    "complex-key", "wrap", "empty", "swap-order",
                ]
            )
        )  # fmt: skip
        mappings = [n for n in nodes if isinstance(n, MappingNode)]
        collections = [n for n in nodes if isinstance(n, MappingNode | SequenceNode)]
        if op == "retag":
            node.tag = draw(st.sampled_from(TAGS))
        elif op == "restyle":
            if isinstance(node, ScalarNode):
                node.style = draw(st.sampled_from([None, "'", '"', "|", ">"]))
            else:
                node.flow_style = draw(st.booleans())
        elif op in ("replace", "wrap", "empty", "alias") and collections:
            parent = collections[draw(st.integers(0, len(collections) - 1))]
            if not parent.value:
                continue
            index = draw(st.integers(0, len(parent.value) - 1))
            old = parent.value[index] if isinstance(parent, SequenceNode) else parent.value[index][1]
            if op == "replace":
                new = _scalar(draw(junk_values()))
            elif op == "wrap":
                new = (
                    SequenceNode("tag:yaml.org,2002:seq", [old])
                    if draw(st.booleans())
                    else MappingNode("tag:yaml.org,2002:map", [(ScalarNode(STR, draw(text())), old)])
                )
            elif op == "empty":
                new = ScalarNode(NULL, draw(st.sampled_from(["", "~", "null"])))
            else:  # share another node: anchors and aliases, maybe a cycle
                new = nodes[draw(st.integers(0, len(nodes) - 1))]
            if isinstance(parent, SequenceNode):
                parent.value[index] = new
            else:
                parent.value[index] = (parent.value[index][0], new)
        elif op == "delete" and collections:
            parent = collections[draw(st.integers(0, len(collections) - 1))]
            if parent.value:
                del parent.value[draw(st.integers(0, len(parent.value) - 1))]
        elif op == "duplicate" and mappings:
            parent = mappings[draw(st.integers(0, len(mappings) - 1))]
            if parent.value:
                key, value = parent.value[draw(st.integers(0, len(parent.value) - 1))]
                twin = ScalarNode(STR, key.value) if isinstance(key, ScalarNode) else key
                parent.value.append((twin, _scalar(draw(junk_values())) if draw(st.booleans()) else value))
        elif op == "unknown" and mappings:
            parent = mappings[draw(st.integers(0, len(mappings) - 1))]
            parent.value.insert(
                draw(st.integers(0, len(parent.value))), (ScalarNode(STR, draw(text())), _scalar(draw(junk_values())))
            )
        elif op == "typo" and mappings:
            parent = mappings[draw(st.integers(0, len(mappings) - 1))]
            if parent.value:
                index = draw(st.integers(0, len(parent.value) - 1))
                key, value = parent.value[index]
                if isinstance(key, ScalarNode):
                    parent.value[index] = (ScalarNode(STR, _edit(str(key.value), draw)), value)
        elif op == "merge" and mappings:
            parent = mappings[draw(st.integers(0, len(mappings) - 1))]
            kind = draw(st.sampled_from(["one", "list", "scalar", "nested"]))
            if kind == "one":
                source: Node = mappings[draw(st.integers(0, len(mappings) - 1))]
            elif kind == "list":
                picked = draw(st.lists(st.integers(0, len(mappings) - 1), min_size=0, max_size=4))
                source = SequenceNode("tag:yaml.org,2002:seq", [mappings[i] for i in picked])
            elif kind == "scalar":
                source = _scalar(draw(scalars()))
            else:
                source = MappingNode("tag:yaml.org,2002:map", [(ScalarNode(MERGE, "<<"), parent)])
            parent.value.insert(draw(st.integers(0, len(parent.value))), (ScalarNode(MERGE, "<<"), source))
        elif op == "complex-key" and mappings:
            parent = mappings[draw(st.integers(0, len(mappings) - 1))]
            if parent.value:
                index = draw(st.integers(0, len(parent.value) - 1))
                key, value = parent.value[index]
                complex_key = (
                    SequenceNode("tag:yaml.org,2002:seq", [key])
                    if draw(st.booleans())
                    else MappingNode("tag:yaml.org,2002:map", [(key, value)])
                )
                parent.value[index] = (complex_key, value)
        elif op == "swap-order" and mappings:
            parent = mappings[draw(st.integers(0, len(mappings) - 1))]
            if len(parent.value) > 1:
                parent.value.append(parent.value.pop(0))  # the kind key no longer first


def serialize(draw: st.DrawFn, roots: list[Node | None]) -> str:
    """The node trees as one YAML stream, written in a drawn style."""
    options: dict[str, Any] = {
        "explicit_start": draw(st.booleans()),
        "explicit_end": draw(st.integers(0, 5)) == 0,
        "canonical": draw(st.integers(0, 9)) == 0,
        "indent": draw(st.sampled_from([None, 2, 4, 9])),
        "width": draw(st.sampled_from([None, 20, 10**9])),
        "allow_unicode": draw(st.booleans()),
    }
    if draw(st.integers(0, 9)) == 0:
        options["version"] = draw(st.sampled_from([(1, 1), (1, 2)]))
    if draw(st.integers(0, 9)) == 0:
        options["tags"] = {"!e!": "tag:example.com,2000:"}
    out = io.StringIO()
    try:
        yaml.serialize_all([root or ScalarNode(NULL, "") for root in roots], out, Dumper=yaml.SafeDumper, **options)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):  # a tree the emitter refuses: write it plainly
        return "\n---\n".join(yaml.safe_dump(draw(scalars())) for _ in roots)
    return out.getvalue()


SPECIAL = [
    "\x00", "\t", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\ufeff", "\x1b", "\x7f", "\x0b", "\x0c", "\uffff",
    "\U0001f600", " ", ":", ": ", "-", "- ", "&a ", "*a", "*zz", "!!", "!!binary ", "!!python/object:os.system ",
    "%", "@", "`", "{", "}", "[", "]", ",", "#", "'", '"', "|", ">", "? ", "---\n", "...\n", "--- |\n",
    "%YAML 1.1\n", "%YAML 2.0\n", "%TAG ! tag:x,2000:\n", "<<: *a\n", "\n  ", "\\", "\\x", '"\\ud800"',
]  # fmt: skip


def mutate_text(draw: st.DrawFn, text_: str) -> str:
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text_)))
        op = draw(st.sampled_from(["insert", "delete", "copy", "tabs", "crlf", "cut", "bom", "lines"]))
        if op == "insert":
            text_ = text_[:at] + draw(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=4))) + text_[at:]
        elif op == "delete":
            text_ = text_[:at] + text_[at + draw(st.integers(1, 20)) :]
        elif op == "copy":
            length = draw(st.integers(1, 60))
            text_ = text_[:at] + text_[at : at + length] * draw(st.integers(1, 3)) + text_[at:]
        elif op == "tabs":
            text_ = re.sub(r"(?m)^  ", "\t", text_, count=draw(st.integers(0, 3)))
        elif op == "crlf":
            text_ = text_.replace("\n", draw(st.sampled_from(["\r\n", "\r", "\x85", "\u2028"])))
        elif op == "cut":
            text_ = text_[:at]
        elif op == "bom":
            text_ = "\ufeff" + text_ if draw(st.booleans()) else text_[:at] + "\ufeff" + text_[at:]
        else:
            lines = text_.splitlines(keepends=True)
            if len(lines) > 1:
                i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
                text_ = "".join(lines)
    return text_


def encode(draw: st.DrawFn, text_: str) -> bytes:
    how = draw(st.sampled_from(["utf-8"] * 12 + ["utf-8-sig", "utf-16", "latin-1", "surrogates", "flip"]))
    if how == "latin-1":
        return text_.encode("latin-1", errors="replace")
    if how == "surrogates":
        at = draw(st.integers(0, len(text_)))
        return (text_[:at] + "\ud800" + text_[at:]).encode("utf-8", errors="surrogatepass")
    data = text_.encode("utf-8" if how == "flip" else how, errors="surrogatepass")
    if how == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :]
    return data


@st.composite
def desired_stream(draw: st.DrawFn) -> bytes:
    """One desired file: documents from the schema, mutated as nodes, as text and as bytes."""
    roots: list[Node | None] = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 9)) == 0:
            roots.append(None)  # an empty document
        else:
            roots.append(to_node(draw(documents())))
    mutate(draw, [root for root in roots if root is not None])
    return encode(draw, mutate_text(draw, serialize(draw, roots)))


FILE_NAMES = ["a.yaml", "b.yml", "sub/c.yaml", "sub/deeper/d.yaml", "é ü.yaml", ".hidden.yaml", "x.YAML", "e.json"]


@st.composite
def desired_cases(draw: st.DrawFn) -> DesiredCase:
    files = {"a.yaml": draw(desired_stream())}
    for name in draw(st.lists(st.sampled_from(FILE_NAMES[1:]), max_size=2, unique=True)):
        files[name] = draw(st.one_of(desired_stream(), st.just(b""), st.just(files["a.yaml"])))
    if draw(st.integers(0, 19)) == 0:
        files["dir.yaml/"] = b""  # a directory whose name looks like a desired file
    verb = draw(st.sampled_from(["validate"] * 8 + ["lint", "plan", "drift", "apply"]))
    return DesiredCase(files, verb)


# --- soup -----------------------------------------------------------------------------------------------------

TOKENS = [
    *SPECIAL, "table", "database", "function", "view", "role", "columns", "indexes", "name", "type", "present",
    "settings", "extensions", "maintenance", "policies", "storage", "retire", "lint", "ignore", "schema",
    "\n", "\n", "\n  ", "\n    ", "  ", "a", "b", "1", "-1", "1.5", "true", "null", "&x ", "*x", "&y ", "*y",
    "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "!!timestamp ", "!!set ", "!!omap ", "!!merge ",
    "!<tag:yaml.org,2002:str> ", "!local ", "2020-01-01", "'quoted'", '"dq"', '"\\u0000"', "|-\n", ">+\n",
]  # fmt: skip


@functools.cache
def soup() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=400),
        st.lists(st.sampled_from(TOKENS), max_size=60).map(lambda tokens: "".join(tokens).encode()),
        st.builds(
            lambda head, tokens: (head + "".join(tokens)).encode("utf-8", errors="surrogatepass"),
            st.sampled_from(["table: t\n", "database:\n", "function: f\n", "view: v\n", "role: r\n", ""]),
            st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)), max_size=40),
        ),
    )


# --- bombs, small enough for thousands of them --------------------------------------------------------------


def _laughs(depth: int, width: int, head: str) -> str:
    lines = [head, "x0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


def _merges(depth: int, width: int, head: str, new_keys: bool) -> str:
    lines = [head, "m0: &m0 {k0: v}"]
    for i in range(1, depth):
        own = f", k{i}: v" if new_keys else ""
        lines.append(f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * width) + f"]{own}}}")
    return "\n".join(lines) + "\n"


def _nested(depth: int, head: str, flow: str) -> str:
    if flow == "[":
        return f"{head}x: " + "[" * depth + "]" * depth + "\n"
    if flow == "{":
        return f"{head}x: " + "{a: " * depth + "b" + "}" * depth + "\n"
    if flow == "-":
        return head + "x:\n" + "".join(" " * (2 * i) + "-\n" for i in range(depth))
    return head + "".join(" " * i + f"k{i}:\n" for i in range(depth))


HEADS = ["table: t", "database:", "role: r\nsettings:", "function: f\nbody: x", "view: v\nquery: q", "x: 1"]


@st.composite
def bombs(draw: st.DrawFn) -> bytes:
    head = draw(st.sampled_from(HEADS))
    shape = draw(st.sampled_from(["laughs", "merges", "self", "nested", "long", "wide", "docs", "keys"]))
    if shape == "laughs":
        text_ = _laughs(draw(st.integers(1, 12)), draw(st.integers(1, 12)), head)
    elif shape == "merges":
        text_ = _merges(draw(st.integers(1, 30)), draw(st.integers(1, 10)), head, draw(st.booleans()))
    elif shape == "self":
        text_ = head + "\n" + draw(
            st.sampled_from(
                [
                    "x: &a [*a]\n", "x: &a {k: *a}\n", "x: &a {<<: *a}\n", "x: &a [&b [*b]]\ny: *a\n",
                    "x: &a {<<: [*a, *a]}\n", "x: &a [*a, *a, *a]\ny: [*a, *a]\n", "x: &a {*a : 1}\n",
                    "x: &a\n  y: &b {<<: *a}\n", "? &a [*a]\n: 1\n",
                ]
            )
        )  # fmt: skip
    elif shape == "nested":
        text_ = _nested(draw(st.integers(1, 1200)), head + "\n", draw(st.sampled_from(["[", "{", "-", "k"])))
    elif shape == "long":
        length = draw(st.sampled_from([10**3, 10**5, 10**6]))
        filler = draw(st.sampled_from(["x", "é", "'", " ", "a b ", "\t"]))
        text_ = head + "\nlong: '" + (filler * length)[:length].replace("'", "''") + "'\n"
    elif shape == "wide":
        count = draw(st.sampled_from([10, 10**3, 10**4, 10**5]))
        item = draw(st.sampled_from(["x", "1", "{columns: [1]}", "[]", "*a", "{a: 1}"]))
        text_ = head + "\nanchor: &a [1]\nwide: [" + ", ".join([item] * count) + "]\n"
    elif shape == "docs":
        count = draw(st.sampled_from([10, 100, 1000, 3000]))
        text_ = "".join(f"---\n{head.replace(': t', f': t{i}')}\n" for i in range(count))
    else:
        count = draw(st.sampled_from([10, 1000, 10**4]))
        value = draw(st.sampled_from(["1", "x", "[]", "{}"]))
        text_ = head + "\n" + "".join(f"u{i}: {value}\n" for i in range(count))
    return text_.encode()


# --- command lines ------------------------------------------------------------------------------------------


@functools.cache
def verb_parsers() -> dict[str, argparse.ArgumentParser]:
    """The verbs and their parsers, as the CLI builds them."""
    parser = cli_parser.build_parser()
    actions = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(actions[0].choices)


# The places the command lines may name (prepared by the test in its working directory).
PATHS = [
    "good", "bad", "empty", "missing", "missing/deeper", "a-file", "good/t.yaml", "repo/desired", "repo",
    ".", "", " ", "-", "é", "good/", "./good", "good//", "bad/../good", "a-file/below", "/dev/null",
]  # fmt: skip
DURATIONS = [
    "2s", "500ms", "1min", "10min", "1d", "1.5h", "1 s", " 2s ", "86400s", "24h", "0.001s", "1ms", "1us", "999us",
    "0s", "0", "2", "-1s", "-0.5min", "1e3s", "1e-3s", "1e400s", "1E2ms", "nan", "inf", "infs", "forever",
    "Forever", "2S", "2sec", "1d1s", "86401s", "1.5.5s", ".5s", "5.s", "٢s", "²s", "2\u00a0s", "2\ts", "", " ",
    "2 ms ", "0x10s", "1_000ms", "+2s", "１s",
]  # fmt: skip
INTEGERS = [
    "0", "1", "5", "-1", "-0", "+5", " 5", "5 ", "1_000", "٥", "0x10", "1e3", "5.0", "nan", "", "99999999999999999999",
    str(2**63), str(-(2**63)), "9" * 5000,
]  # fmt: skip
URLS = [
    "postgresql://127.0.0.1:1/x", "postgresql://u:secret@127.0.0.1:1/db", "postgres://127.0.0.1:1",
    "host=127.0.0.1 port=1 dbname=x", "host=/nonexistent-socket-dir port=1", "postgresql://[::1]:1/x",
    "postgresql:///x?host=/nonexistent", "", " ", "not a url", "postgresql://127.0.0.1:99999/x",
    "postgresql://127.0.0.1:-1/x", "postgresql://%zz@127.0.0.1:1/x", "postgresql://127.0.0.1:1/x?sslmode=bogus",
    "postgresql://127.0.0.1:1/x?connect_timeout=1", "postgresql://127.0.0.1:1/x?application_name=é",
    "mysql://127.0.0.1:1/x", "postgresql://u:p%40ss@127.0.0.1:1/x?password=other",
    "host=127.0.0.1 port=1 password='a b'",
    "postgresql://127.0.0.1:1/x?options=-c%20x", "postgresql://127.0.0.1:1,127.0.0.1:2/x",
]  # fmt: skip
REFS = [
    "HEAD", "HEAD~1", "HEAD~100", "HEAD^", "HEAD^^^", "main", "master", "nope", "-", "--all", "--upload-pack=touch x",
    "-h", "HEAD:desired", "HEAD:desired/t.yaml", "HEAD^{tree}", "HEAD^{blob}", "HEAD^{commit}", "HEAD@{0}",
    "HEAD@{-1}", "@", "@{upstream}", ":/initial", "0000000", "deadbeef", "a" * 40, "0" * 40, "HEAD..HEAD",
    "HEAD...main", "refs/heads/main", "v1", "", " ", "..", "~", "^", "HEAD~99999999999999999999", "HEAD@{1 year ago}",
    "ORIG_HEAD", "FETCH_HEAD", "stash", "HEAD^0", "HEAD^{/initial}", "é",
]  # fmt: skip
NAMES = ['public."User"', "t", "public.t", 'a."b.c"', '"unterminated', '""', ".", "a.b.c", "a..b", '"a""b"', "é"]


@functools.cache
def _junk() -> st.SearchStrategy[str]:
    # No NUL (argv cannot hold one), no '=' or ':' (a URL of junk must not name a host to look up).
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00=:/"), max_size=12)


@functools.cache
def _surrogate_escaped() -> st.SearchStrategy[str]:
    """A word as Python decodes a non-UTF-8 argv byte (surrogateescape)."""
    # No "/" or NUL: `--desired /` would walk the whole file system (and argv cannot hold a NUL).
    words = st.binary(min_size=1, max_size=4).filter(lambda data: b"/" not in data and b"\0" not in data)
    return words.map(lambda data: data.decode("utf-8", errors="surrogateescape"))


def _value_of(action: argparse.Action, parser: argparse.ArgumentParser) -> st.SearchStrategy[str]:
    junk = st.one_of(_junk(), _surrogate_escaped())
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return st.one_of(st.sampled_from([str(c) for c in action.choices]), junk)
    if action.type is cli_parser.duration:
        return st.one_of(
            st.sampled_from(DURATIONS),
            st.builds(
                lambda n, unit: f"{n}{unit}",
                st.one_of(st.integers(-5, 100_000), st.floats(allow_nan=True), st.integers()),
                st.sampled_from(["us", "ms", "s", "min", "h", "d", "", "m", "sec", "D"]),
            ),
            junk,
        )
    if action.type in (cli_parser.non_negative, int):
        return st.one_of(st.sampled_from(INTEGERS), st.integers().map(str), junk)
    if action.dest == "database_url":
        return st.one_of(st.sampled_from(URLS), st.builds(lambda url, odd: url + odd, st.sampled_from(URLS), junk))
    if action.dest == "base":
        return st.one_of(st.sampled_from(REFS), junk)
    if action.type is not None and getattr(action.type, "__name__", "") == "Path":
        return st.one_of(st.sampled_from(PATHS), junk)
    return st.one_of(st.sampled_from(NAMES), junk)


def _option_words(action: argparse.Action, draw: st.DrawFn, parser: argparse.ArgumentParser) -> list[str]:
    option = draw(st.sampled_from(action.option_strings))
    if draw(st.integers(0, 9)) == 0 and option.startswith("--") and len(option) > 4:
        option = option[: draw(st.integers(3, len(option)))]  # an abbreviation argparse may accept
    if action.nargs == 0:
        return [option]
    if action.nargs == "?" and draw(st.booleans()):
        return [option]
    value = draw(_value_of(action, parser))
    if draw(st.integers(0, 3)) == 0 and option.startswith("--"):
        return [f"{option}={value}"]
    return [option, value]


@st.composite
def command_lines(draw: st.DrawFn) -> CliCase:
    parsers = verb_parsers()
    verb = draw(st.sampled_from(sorted(parsers)))
    database_env = not (verb == "lint" and draw(st.booleans()))  # lint without a database lints the files only
    sub = parsers[verb]
    options = [
        action
        for action in sub._actions
        if action.option_strings
        and not isinstance(action, argparse._HelpAction)
        and (database_env or action.dest != "database_url")
    ]
    positionals = [a for a in sub._actions if not a.option_strings]
    words: list[list[str]] = []
    for action in draw(st.lists(st.sampled_from(options), max_size=6)):
        words.append(_option_words(action, draw, sub))
    if draw(st.integers(0, 29)) == 0:
        words.append([draw(st.sampled_from(["-h", "--help"]))])
    for action in positionals:
        count = {None: 1, "?": draw(st.integers(0, 1)), "*": draw(st.integers(0, 3))}.get(action.nargs, 1)
        if draw(st.integers(0, 9)) == 0:
            count = draw(st.integers(0, 2))  # too few or too many
        for _ in range(count):
            words.append([draw(_value_of(action, sub))])
    if draw(st.integers(0, 9)) == 0:
        words.append([draw(st.sampled_from(["--nope", "-x", "--", "---", "--desired", "--format", "-"]))])
    order = draw(st.permutations(range(len(words))))
    before = draw(st.integers(0, len(words))) if draw(st.integers(0, 4)) == 0 else 0  # options before the verb
    groups = [words[i] for i in order]
    verb_word = verb if draw(st.integers(0, 29)) else draw(st.sampled_from(["", "valid", "VALIDATE", "nope", "-v"]))
    argv = [word for group in groups[:before] for word in group]
    argv.append(verb_word)
    argv += [word for group in groups[before:] for word in group]
    return CliCase(argv, database_env)


@st.composite
def option_values(draw: st.DrawFn) -> tuple[str, str]:
    """A value for each option type of the parser: (type name, text)."""
    parsers = verb_parsers()
    actions = {
        action.type.__name__: action
        for sub in parsers.values()
        for action in sub._actions
        if action.type in (cli_parser.duration, cli_parser.non_negative)
    }
    name = draw(st.sampled_from(sorted(actions)))
    return name, draw(st.one_of(_value_of(actions[name], parsers["apply"]), st.text(max_size=8)))
