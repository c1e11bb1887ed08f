"""The compiled validity check (jsonschema-rs) and jsonschema, which words the errors, must agree.

Every document the repository holds, and variants of each with one value replaced by something else, are run
through both: a document one accepts and the other rejects would either pass unchecked or fail without a message.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgstate.source.loader import load_documents
from pgstate.source.schema import _fast_validator, _validator, document_kinds

KINDS = document_kinds()

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "desired", ROOT / "desired-later", *sorted((ROOT / "tests" / "cases").glob("*/*/desired"))]
REPLACEMENTS: list[Any] = [None, 0, -1, 1.5, True, "", "x;y", "a" * 64, "é" * 32, [], {}, ["a"], {"k": 1}, "1d"]


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for source in SOURCES:
        if source.is_dir():
            found += [(doc.kind or "", doc.data) for doc in load_documents(source)]
    return found


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(data)
    target: Any = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return result


def variants() -> Iterator[tuple[str, dict[str, Any]]]:
    for kind, data in documents():
        yield kind, data
        yield kind, {**data, "unknown_key": 1}
        for path in paths(data):
            if len(path) < 2:
                continue
            for value in REPLACEMENTS:
                yield kind, replaced(data, path, value)


def test_there_are_documents_of_every_kind() -> None:
    assert {kind for kind, _ in documents()} == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_validators_agree(kind: str) -> None:
    checked = 0
    for doc_kind, data in variants():
        if doc_kind != kind:
            continue
        fast = _fast_validator(kind).is_valid(data)
        full = next(iter(_validator(kind).iter_errors(data)), None) is None
        assert fast == full, f"jsonschema-rs says {fast}, jsonschema says {full} for {data!r}"
        checked += 1
    assert checked > 0
