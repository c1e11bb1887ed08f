"""Validating the desired state without a database: the JSON Schema first, then what a schema cannot say.

Every problem is collected, located (``file:line:col``) and worded for people; nothing stops at the first one.
Meaning checks (duplicates, contradictions) only look at documents that passed the schema, so they can trust
the shape of the data.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from .errors import InvalidDesiredState, PgstateError, SourceLocation
from .loader import Document, PathKey
from .naming import MAX_IDENTIFIER_BYTES, default_index_name

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

KINDS = ("table", "database", "function", "view")
"""Document kinds; a document's kind is its first key."""

IDENTIFIER_FORMAT = "pgstate-identifier"
"""The schema's format for identifiers: at most 63 bytes, which maxLength (in characters) cannot say."""

NO_KIND = "document has no kind: its first key must be one of " + ", ".join(KINDS)

# Keys a retired table cannot have: there is nothing left to manage on a table that is being dropped.
_MANAGED_TABLE_KEYS = ("columns", "indexes", "prune_indexes", "rls", "policies", "storage")


def validate_documents(docs: list[Document]) -> None:
    """Checks the schema and the meaning of the desired documents.

    Raises :class:`InvalidDesiredState` carrying every problem found, in file and line order.
    """
    problems: list[PgstateError] = []
    schema_valid: list[Document] = []
    for doc in docs:
        found = _kind_problems(doc) or _schema_problems(doc)
        problems.extend(found)
        if not found:
            schema_valid.append(doc)
    problems.extend(_meaning_problems(schema_valid))
    if problems:
        raise InvalidDesiredState(_in_file_order(problems, docs))


def load_schema() -> dict[str, Any]:
    """The JSON Schema of one desired document (draft 2020-12), as shipped in the package."""
    return _schema()


# --- schema ----------------------------------------------------------------------------------------------


@functools.cache
def _schema() -> dict[str, Any]:
    text = resources.files("pgstate").joinpath("schema/desired.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _fast_validator(kind: str) -> jsonschema_rs.Draft202012Validator:
    """A compiled (Rust) validator for one kind: it only says whether a document is valid.

    jsonschema costs about 0.4 ms per document, most of a no-op plan of 1,000 tables; this costs microseconds.
    The messages, with their paths and the choice of the meant oneOf branch, still come from jsonschema, which
    runs only on documents this one rejects. A test checks that both agree on every document the tests use.
    """
    return jsonschema_rs.Draft202012Validator(
        _kind_schema(kind), formats={IDENTIFIER_FORMAT: _fits_namedatalen}, validate_formats=True
    )


def _kind_schema(kind: str) -> dict[str, Any]:
    root = _schema()
    schema: dict[str, Any] = _inline_refs(root["$defs"][f"{kind}_document"], root["$defs"])
    return schema


def _fits_namedatalen(instance: object) -> bool:
    return not isinstance(instance, str) or len(instance.encode()) <= MAX_IDENTIFIER_BYTES


@functools.cache
def _validator(kind: str) -> Draft202012Validator:
    """A validator for one kind's document schema, compiled once per process.

    The kind is known (the first key), so validating against its own branch rather than the root's
    oneOf gives errors at the offending key instead of "not valid under any of the given schemas".
    """
    from jsonschema import Draft202012Validator  # imported only when a document is invalid: it is slow

    return Draft202012Validator(_kind_schema(kind), format_checker=_format_checker())


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with every ``#/$defs/...`` reference replaced by its target.

    Resolving references at validation time costs about a third of jsonschema's time on a large tree; the
    format has no recursive definitions, so the references can be expanded once. Keywords next to a
    ``$ref`` are annotations (description, default); the target's own win, as its hints are more precise.
    """
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    expanded = {key: _inline_refs(value, defs) for key, value in node.items() if key != "$ref"}
    reference = node.get("$ref")
    if reference is None:
        return expanded
    target = _inline_refs(defs[reference.removeprefix("#/$defs/")], defs)
    return {**expanded, **target}


def _format_checker() -> FormatChecker:
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    checker.checks(IDENTIFIER_FORMAT)(_fits_namedatalen)
    return checker


def _kind_problems(doc: Document) -> list[PgstateError]:
    kind = doc.kind
    if kind in KINDS:
        return []
    declared = [name for name in KINDS if name in doc.data]
    if declared:
        hint = f"move `{declared[0]}:` to the top of the document"
    elif kind is not None and (close := difflib.get_close_matches(kind, KINDS, n=1)):
        hint = f"the first key is {kind!r}; did you mean {close[0]!r}?"
    else:
        hint = "start the document with `table: NAME`, `database:`, `function: NAME` or `view: NAME`"
    path: PathKey = (kind,) if kind is not None else ()
    return [PgstateError(NO_KIND, location=doc.locate(path), hint=hint)]


def _schema_problems(doc: Document) -> list[PgstateError]:
    assert doc.kind is not None  # _kind_problems ran first
    if _fast_validator(doc.kind).is_valid(doc.data):
        return []
    problems: list[PgstateError] = []
    for error in _validator(doc.kind).iter_errors(doc.data):
        for leaf in _specific_errors(error):
            problems.extend(_describe(leaf, doc))
    return problems


def _specific_errors(error: ValidationError) -> list[ValidationError]:
    """For a oneOf/anyOf failure, the errors of the branch the user evidently meant.

    Branches whose type does not even fit the value are ignored; of the rest, the one with the fewest
    missing required keys, then the fewest errors, wins (``{column: c, ordr: desc}`` is a column key with a
    typo, not an expression key missing its expression).
    """
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [errs for errs in branches.values() if not any(_is_type_mismatch(sub) for sub in errs)]
    if not fitting:
        return [error]
    best = min(fitting, key=lambda errs: (sum(sub.validator == "required" for sub in errs), len(errs)))
    return [leaf for sub in best for leaf in _specific_errors(sub)]


def _is_type_mismatch(sub: ValidationError) -> bool:
    return sub.validator == "type" and not sub.relative_path


def _describe(error: ValidationError, doc: Document) -> list[PgstateError]:
    path: PathKey = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        return _unknown_keys(error, doc, path)
    if error.validator == "required":
        return _missing_keys(error, doc, path)
    if error.validator == "format" and _also_too_long(error):
        return []  # the maxLength error already says it, in characters
    if "propertyNames" in error.relative_schema_path:
        path = (*path, str(error.instance))  # the offending name is a key of this mapping
    message, hint = _message(error)
    return [PgstateError(f"{_where(path)}{message}", location=doc.locate(path), hint=hint)]


def _unknown_keys(error: ValidationError, doc: Document, path: PathKey) -> list[PgstateError]:
    allowed = list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
    context = _context(error, path)
    instance: dict[str, Any] = error.instance  # type: ignore[assignment]  # additionalProperties: a mapping
    problems = []
    for key in instance:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, allowed, n=1)
        problems.append(
            PgstateError(
                f"unknown key {key!r} in {context}; allowed: {', '.join(allowed)}",
                location=doc.locate((*path, key)),
                hint=f"did you mean {close[0]!r}?" if close else None,
            )
        )
    return problems


def _missing_keys(error: ValidationError, doc: Document, path: PathKey) -> list[PgstateError]:
    # jsonschema reports each missing key separately but without naming it apart from in its message;
    # naming them all here and dropping repeats later keeps the wording ours.
    properties = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    required: list[str] = error.validator_value  # type: ignore[assignment]  # always set on a real error
    instance: dict[str, Any] = error.instance  # type: ignore[assignment]  # required: a mapping
    missing = [key for key in required if key not in instance]
    return [
        PgstateError(
            f"{_context(error, path)} is missing the required key {key!r}",
            location=doc.locate(path),
            hint=_key_hint(key, properties.get(key, {}).get("description")),
        )
        for key in missing
    ]


def _key_hint(key: str, description: str | None) -> str | None:
    return f"`{key}`: {_sentence(description)}" if description else None


def _context(error: ValidationError, path: PathKey) -> str:
    title = error.schema.get("title", "mapping") if isinstance(error.schema, dict) else "mapping"
    return f"{title} at {_dotted(path)}" if path else str(title)


def _message(error: ValidationError) -> tuple[str, str | None]:
    """A sentence for one schema error, and a hint when the schema's description helps."""
    value: Any = error.validator_value
    instance: Any = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    description = schema.get("description")
    match error.validator:
        case "type":
            return f"expected {_expected_types(value)}, got {_show(instance)}", None
        case "enum":
            close = difflib.get_close_matches(str(instance), [str(v) for v in value], n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            return f"{_show(instance)} is not one of: {', '.join(str(v) for v in value)}", hint
        case "pattern":
            return f"{_show(instance)} is not valid here", f"expected {_sentence(description)}"
        case "format":
            return (
                f"{_show(instance)} is longer than {MAX_IDENTIFIER_BYTES} bytes in UTF-8",
                "PostgreSQL would silently truncate it: use a shorter name",
            )
        case "minLength":
            return "must not be empty", None
        case "maxLength":
            return f"is longer than {value} characters", "PostgreSQL would silently truncate it: use a shorter name"
        case "minItems":
            return ("must not be empty" if value == 1 else f"must list at least {value} items"), None
        case "uniqueItems":
            return "lists the same item more than once", "remove the repeated item"
        case "minimum":
            return f"must be at least {value}, got {_show(instance)}", None
        case "maximum":
            return f"must be at most {value}, got {_show(instance)}", None
        case "oneOf" | "anyOf":
            return f"expected {_sentence(description)}, got {_show(instance)}", None
    return error.message, None


def _also_too_long(error: ValidationError) -> bool:
    schema = error.schema if isinstance(error.schema, dict) else {}
    limit = schema.get("maxLength")
    return isinstance(error.instance, str) and limit is not None and len(error.instance) > limit


def _sentence(description: str | None) -> str:
    """A schema description fit to follow "expected": "A column name, ..." -> "a column name, ..."."""
    if not description:
        return "another value"
    return description[0].lower() + description[1:].rstrip(".")


def _expected_types(types: Any) -> str:
    names = {
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "object": "a mapping",
        "array": "a list",
        "null": "null",
    }
    listed = [names.get(name, name) for name in ([types] if isinstance(types, str) else types)]
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " or " + listed[-1]


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML, short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return str(value)


def _where(path: PathKey) -> str:
    return f"{_dotted(path)}: " if path else ""


def _dotted(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --- meaning ---------------------------------------------------------------------------------------------


def _meaning_problems(docs: list[Document]) -> list[PgstateError]:
    problems = _declaration_problems(docs)
    for doc in docs:
        if doc.kind == "table":
            problems.extend(_table_problems(doc))
        elif doc.kind == "function":
            problems.extend(_function_problems(doc))
        problems.extend(_lint_problems(doc))
    return problems


def _lint_problems(doc: Document) -> list[PgstateError]:
    """A rule id that silences nothing is a typo that would let the rule's findings through unnoticed."""
    ignored = (doc.data.get("lint") or {}).get("ignore") or []
    if not ignored:
        return []
    from .lint import RULES  # imported only for documents that silence rules

    problems = []
    for position, rule_id in enumerate(ignored):
        if rule_id not in RULES:
            close = difflib.get_close_matches(rule_id, list(RULES), n=1)
            problems.append(
                PgstateError(
                    f"unknown lint rule {rule_id!r}",
                    location=doc.locate(("lint", "ignore", position)),
                    hint=f"did you mean {close[0]!r}?" if close else f"known rules: {', '.join(sorted(RULES))}",
                )
            )
    return problems


@dataclass(frozen=True)
class _Relation:
    kind: str  # table, view or index
    location: SourceLocation
    retired: bool = False
    default_name: bool = False  # an unnamed index, named as PostgreSQL would name it


class _Namespace:
    """Tables, views and indexes share one namespace per schema in PostgreSQL: each name once."""

    def __init__(self) -> None:
        self.relations: dict[tuple[str, str], _Relation] = {}
        self.problems: list[PgstateError] = []

    def declare(self, schema: str, name: str, relation: _Relation) -> None:
        first = self.relations.setdefault((schema, name), relation)
        if first is relation:
            return
        if first.kind != relation.kind and (first.retired or relation.retired):
            return  # replacing a retired table by a view of the same name is fine
        self.problems.append(_name_clash(schema, name, first, relation))


def _name_clash(schema: str, name: str, first: _Relation, second: _Relation) -> PgstateError:
    qualified = f"{schema}.{name}"
    if first.kind == second.kind == "index":
        how_here = " (the default name of this unnamed index)" if second.default_name else ""
        how_first = " (the default name of an unnamed index)" if first.default_name else ""
        return PgstateError(
            f"index name {name!r} is used twice in schema {schema!r}: here{how_here} "
            f"and at {first.location}{how_first}",
            location=second.location,
            hint="index names are unique per schema: give one of them another `name:`",
        )
    if first.kind == second.kind:
        return PgstateError(
            f"{second.kind} {qualified} is declared twice (first at {first.location})",
            location=second.location,
            hint=f"declare each {second.kind} in one document: merge the two",
        )
    return PgstateError(
        f"the {second.kind} name {qualified} is already used by the {first.kind} at {first.location}",
        location=second.location,
        hint="tables, views and indexes share one namespace per schema: rename one of them",
    )


def _declaration_problems(docs: list[Document]) -> list[PgstateError]:
    """Objects declared twice: tables, views, indexes (by name per schema), functions, the database."""
    namespace = _Namespace()
    functions: dict[tuple[str, str, str], SourceLocation] = {}
    database: SourceLocation | None = None
    problems: list[PgstateError] = []
    for doc in docs:
        data = doc.data
        location = doc.locate((doc.kind,)) if doc.kind else doc.locate(())
        schema = data.get("schema", "public")
        if doc.kind == "table":
            retired = data.get("present", True) is False
            namespace.declare(schema, data["table"], _Relation("table", location, retired=retired))
            for name, relation in _index_names(doc):
                namespace.declare(schema, name, relation)
        elif doc.kind == "view":
            namespace.declare(schema, data["view"], _Relation("view", location))
        elif doc.kind == "function":
            problems.extend(_duplicate_function(doc, functions, location))
        elif doc.kind == "database":
            if database is not None:
                problems.append(
                    PgstateError(
                        f"more than one database document (first at {database})",
                        location=location,
                        hint="put all settings, extensions and maintenance in one `database:` document",
                    )
                )
            database = database or location
    return problems + namespace.problems


def _index_names(doc: Document) -> Iterator[tuple[str, _Relation]]:
    """Each index's name: the declared one, or PostgreSQL's default when every key is a plain column."""
    for position, index in enumerate(doc.data.get("indexes", [])):
        if "name" in index:
            yield index["name"], _Relation("index", doc.locate(("indexes", position, "name")))
            continue
        keys = index["columns"]
        if all(isinstance(key, str) for key in keys):
            name = default_index_name(doc.data["table"], [*keys, *index.get("include", [])])
            yield name, _Relation("index", doc.locate(("indexes", position)), default_name=True)


def _duplicate_function(
    doc: Document, seen: dict[tuple[str, str, str], SourceLocation], location: SourceLocation
) -> list[PgstateError]:
    data = doc.data
    # Functions overload by argument types; comparing the argument text (whitespace-insensitive) catches
    # copies without parsing SQL. Spellings that differ but mean the same are caught against the server.
    arguments = " ".join(data.get("arguments", "").split())
    key = (data.get("schema", "public"), data["function"], arguments)
    first = seen.setdefault(key, location)
    if first is location:
        return []
    return [
        PgstateError(
            f"function {key[0]}.{key[1]}({arguments}) is declared twice (first at {first})",
            location=location,
            hint="declare each function in one document: merge the two",
        )
    ]


def _table_problems(doc: Document) -> list[PgstateError]:
    problems = _presence_problems(doc)
    for position, index in enumerate(doc.data.get("indexes", [])):
        problems.extend(_include_problems(doc, position, index))
    problems.extend(_policy_name_problems(doc))
    return problems


def _presence_problems(doc: Document) -> list[PgstateError]:
    data = doc.data
    if data.get("present", True) is not False:
        if "retire" not in data:
            return []
        return [
            PgstateError(
                "`retire` needs `present: false`: only a table being retired has retire settings",
                location=doc.locate(("retire",)),
                hint="add `present: false` to retire (drop) the table, or remove `retire`",
            )
        ]
    return [
        PgstateError(
            f"`{key}` cannot be used with `present: false`: the table is being retired",
            location=doc.locate((key,)),
            hint=f"remove `{key}`, or set `present: true` to keep managing the table",
        )
        for key in _MANAGED_TABLE_KEYS
        if key in data
    ]


def _include_problems(doc: Document, position: int, index: dict[str, Any]) -> list[PgstateError]:
    key_columns = {key if isinstance(key, str) else key.get("column") for key in index["columns"]}
    seen: set[str] = set()
    problems = []
    for offset, column in enumerate(index.get("include", [])):
        path: PathKey = ("indexes", position, "include", offset)
        if column in seen:
            problems.append(
                PgstateError(
                    f"{_dotted(path[:3])} lists {column!r} twice",
                    location=doc.locate(path),
                    hint="list each included column once",
                )
            )
        elif column in key_columns:
            problems.append(
                PgstateError(
                    f"{_dotted(path[:3])}: {column!r} is already a key column of this index",
                    location=doc.locate(path),
                    hint="a column is either a key column or an included one: remove it from `include`",
                )
            )
        seen.add(column)
    return problems


def _policy_name_problems(doc: Document) -> list[PgstateError]:
    first_seen: dict[str, SourceLocation] = {}
    problems = []
    table = f"{doc.data.get('schema', 'public')}.{doc.data['table']}"
    for position, policy in enumerate(doc.data.get("policies", [])):
        location = doc.locate(("policies", position, "name"))
        first = first_seen.setdefault(policy["name"], location)
        if first is not location:
            problems.append(
                PgstateError(
                    f"policy {policy['name']!r} is declared twice on table {table} (first at {first})",
                    location=location,
                    hint="policy names are unique per table: rename or merge one of them",
                )
            )
    return problems


def _function_problems(doc: Document) -> list[PgstateError]:
    data = doc.data
    if data.get("security") != "definer" or "search_path" in data:
        return []
    return [
        PgstateError(
            "a `security: definer` function must set `search_path`",
            location=doc.locate(("security",)),
            hint="add e.g. `search_path: [pg_catalog, public]` (or `[]` for an empty path): without it, "
            "callers can run their own objects with the owner's rights",
        )
    ]


# --- order -----------------------------------------------------------------------------------------------


def _in_file_order(problems: list[PgstateError], docs: list[Document]) -> list[PgstateError]:
    """Problems sorted by file (in load order), line and column, each reported once."""
    rank: dict[str, int] = {}
    for doc in docs:
        rank.setdefault(doc.file, len(rank))

    def position(problem: PgstateError) -> tuple[int, str, int, int]:
        location = problem.location
        if location is None:
            return (len(rank) + 1, "", 0, 0)
        return (rank.get(location.file, len(rank)), location.file, location.line, location.column)

    unique = {problem.render(): problem for problem in problems}
    return sorted(unique.values(), key=position)
