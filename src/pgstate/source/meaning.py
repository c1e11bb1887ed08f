"""What a schema cannot say about the desired documents: each object declared once, names unique where
PostgreSQL makes them unique, lint rules that exist. Each kind checks its own specs (``Kind.check``); what spans
kinds is here."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import NamedTuple

from ..errors import PgstateError, SourceLocation
from .documents import Header, SpecSet


def meaning_problems(specs: SpecSet) -> list[PgstateError]:
    """Each kind's checks of its specs, then what spans kinds."""
    from ..kinds import all_kinds

    problems = _lint_problems(specs.headers)
    for kind in all_kinds():
        problems += kind.check(specs.of(kind.name))
    problems += _namespace_problems(specs)
    return problems


def duplicate_documents(headers: tuple[Header, ...]) -> list[PgstateError]:
    """Documents that declare what an earlier one declares."""
    seen: dict[tuple[str, ...], Header] = {}
    problems = []
    for header in headers:
        first = seen.setdefault(header.identity, header)
        if first is header:
            continue
        if header.kind == "database":
            problems.append(
                PgstateError(
                    f"more than one database document (first at {first.location})",
                    location=header.location,
                    hint="put all settings, extensions and maintenance in one `database:` document",
                )
            )
        else:
            problems.append(
                PgstateError(
                    f"{_describe(header)} is declared twice (first at {first.location})",
                    location=header.location,
                    hint=f"declare each {header.kind} in one document: merge the two",
                )
            )
    return problems


def _describe(header: Header) -> str:
    if header.kind == "function":
        return f"function {header.qualified}({header.identity[-1]})"
    if header.kind in ("table", "view"):
        return f"{header.kind} {header.qualified}"
    extra = ", ".join(part for part in header.identity[2:] if part)
    return f"{header.kind} {header.name}" + (f" ({extra})" if extra else "")


def _lint_problems(headers: tuple[Header, ...]) -> list[PgstateError]:
    """A rule id that silences nothing is a typo that would let the rule's findings through unnoticed."""
    problems = []
    for header in headers:
        ignored = (header.data.get("lint") or {}).get("ignore") or []
        if not ignored:
            continue
        from ..lint import RULES  # imported only for documents that silence rules

        for position, rule_id in enumerate(ignored):
            if rule_id not in RULES:
                close = difflib.get_close_matches(rule_id, list(RULES), n=1)
                problems.append(
                    PgstateError(
                        f"unknown lint rule {rule_id!r}",
                        location=header.document.locate(("lint", "ignore", position)),
                        hint=f"did you mean {close[0]!r}?" if close else f"known rules: {', '.join(sorted(RULES))}",
                    )
                )
    return problems


class Relation(NamedTuple):
    """A name a desired object takes in its schema's one namespace of tables, views and indexes."""

    schema: str
    name: str
    kind: str  # table, view or index
    location: SourceLocation
    retired: bool = False
    default_name: bool = False  # an unnamed index, named as PostgreSQL would name it


def _namespace_problems(specs: SpecSet) -> list[PgstateError]:
    """Tables, views and indexes share one namespace per schema in PostgreSQL: each name once."""
    from ..kinds import all_kinds

    first: dict[tuple[str, str], Relation] = {}
    problems = []
    declared = sorted(
        (r for kind in all_kinds() for r in _relations(kind, specs)),
        key=lambda r: r.location,  # file, line, column
    )
    for relation in declared:
        seen = first.setdefault((relation.schema, relation.name), relation)
        if seen is relation or (seen.kind != relation.kind and (seen.retired or relation.retired)):
            continue  # replacing a retired table by a view of the same name is fine
        if seen.kind == relation.kind and seen.kind != "index":
            continue  # the same table or view declared twice: reported as a duplicate document
        problems.append(_name_clash(seen, relation))
    return problems


def _relations(kind: object, specs: SpecSet) -> Iterator[Relation]:
    names = getattr(kind, "relation_names", None)
    if names is not None:
        yield from names(specs.of(kind.name))  # type: ignore[attr-defined]


def _name_clash(first: Relation, second: Relation) -> PgstateError:
    qualified = f"{first.schema}.{first.name}"
    if first.kind == second.kind == "index":
        how_here = " (the default name of this unnamed index)" if second.default_name else ""
        how_first = " (the default name of an unnamed index)" if first.default_name else ""
        return PgstateError(
            f"index name {second.name!r} is used twice in schema {second.schema!r}: here{how_here} "
            f"and at {first.location}{how_first}",
            location=second.location,
            hint="index names are unique per schema: give one of them another `name:`",
        )
    return PgstateError(
        f"the {second.kind} name {qualified} is already used by the {first.kind} at {first.location}",
        location=second.location,
        hint="tables, views and indexes share one namespace per schema: rename one of them",
    )
