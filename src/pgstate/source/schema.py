"""The JSON Schema check of desired documents, worded for people.

Every problem is collected, located (``file:line:col``) and worded; nothing stops at the first one. A compiled
validator says whether a document is valid; jsonschema, which words the errors, runs only on invalid ones. What
a schema cannot say (duplicates, contradictions) is checked by the kinds on the documents that passed
(``source.meaning``).
"""

from __future__ import annotations

import difflib
import functools
import itertools
import json
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from ..errors import PgstateError
from ..model.naming import MAX_IDENTIFIER_BYTES
from .nodes import Document, PathKey
from .problems import PROBLEMS_PER_FILE

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

IDENTIFIER_FORMAT = "pgstate-identifier"
"""The schema's format for identifiers: at most 63 bytes, which maxLength (in characters) cannot say."""


@functools.cache
def document_kinds() -> tuple[str, ...]:
    """The document kinds the schema knows, in its order; a document's kind is its first key."""
    return tuple(branch["required"][0] for branch in _schema()["oneOf"])


def no_kind_message() -> str:
    return "document has no kind: its first key must be one of " + ", ".join(document_kinds())


def document_problems(doc: Document, per_file: dict[str, int]) -> list[PgstateError] | None:
    """One document's schema problems (none: it is valid), or None when its file already has more than enough
    listed; ``per_file`` counts them, file by file, across calls.

    Wording a problem takes jsonschema a fraction of a millisecond: past one more than a file's problems are
    listed (``source.problems.listed_per_file``), the rest of that file is not checked (nor valid)."""
    room = PROBLEMS_PER_FILE + 1 - per_file.get(doc.file, 0)
    if room <= 0:
        return None
    found = _kind_problems(doc) or _schema_problems(doc, room)
    per_file[doc.file] = per_file.get(doc.file, 0) + len(found)
    return found


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
    kinds = document_kinds()
    if kind in kinds:
        return []
    declared = [name for name in kinds if name in doc.data]
    if declared:
        hint = f"move `{declared[0]}:` to the top of the document"
    elif kind is not None and (close := difflib.get_close_matches(kind, kinds, n=1)):
        hint = f"the first key is {kind!r}; did you mean {close[0]!r}?"
    else:
        hint = "start the document with `table: NAME`, `function: NAME`, `view: NAME`, `role: NAME` or `database:`"
    path: PathKey = (kind,) if kind is not None else ()
    return [PgstateError(no_kind_message(), location=doc.locate(path), hint=hint)]


def _schema_problems(doc: Document, room: int) -> list[PgstateError]:
    """The document's problems, at most ``room`` of them."""
    assert doc.kind is not None  # _kind_problems ran first
    if _fast_validator(doc.kind).is_valid(doc.data):
        return []
    problems: list[PgstateError] = []
    for error in _validator(doc.kind).iter_errors(doc.data):
        for leaf in _specific_errors(error):
            problems.extend(itertools.islice(_describe(leaf, doc), room - len(problems)))
            if len(problems) >= room:
                return problems
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


def _describe(error: ValidationError, doc: Document) -> Iterable[PgstateError]:
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


def _unknown_keys(error: ValidationError, doc: Document, path: PathKey) -> Iterator[PgstateError]:
    """One problem per unknown key, as they are asked for (a mapping may hold a hundred thousand)."""
    allowed = list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
    context = _context(error, path)
    instance: dict[str, Any] = error.instance  # type: ignore[assignment]  # additionalProperties: a mapping
    for key in instance:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, allowed, n=1)
        yield PgstateError(
            f"unknown key {key!r} in {context}; allowed: {', '.join(allowed)}",
            location=doc.locate((*path, key)),
            hint=f"did you mean {close[0]!r}?" if close else None,
        )


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
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part.isprintable() or not part:  # a key with a line break, a tab or an escape: quoted
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else part
    return text


# --- order -----------------------------------------------------------------------------------------------


def in_file_order(problems: list[PgstateError], docs: list[Document]) -> list[PgstateError]:
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
