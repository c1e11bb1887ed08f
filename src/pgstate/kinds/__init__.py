"""One module per kind of object (see ``base.Kind``); importing the package registers every kind it holds.

A new kind is a new module here: it registers itself, and everything that goes through the registry (validate,
plan, drift, export, the pre-run state, rollback, ``plan --base``) picks it up.
"""

from __future__ import annotations

import functools
import graphlib
import importlib
import pkgutil
from typing import Any

from .base import REGISTRY, Kind

# Modules of this package that hold no kind.
_NOT_KINDS = frozenset({"base", "context"})


@functools.cache
def all_kinds() -> tuple[Kind[Any, Any], ...]:
    """Every kind, each after the kinds it names in ``after`` (then by name): the order kinds are
    canonicalised and planned in."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _NOT_KINDS and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name, kind in sorted(REGISTRY.items()):
        unknown = [other for other in kind.after if other not in REGISTRY]
        if unknown:
            raise RuntimeError(f"kind {name!r} comes after unknown kinds {unknown}")
        sorter.add(name, *kind.after)
    order: list[str] = []
    sorter.prepare()
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order += ready
        sorter.done(*ready)
    return tuple(REGISTRY[name] for name in order)


def kind_named(name: str) -> Kind[Any, Any]:
    all_kinds()
    return REGISTRY[name]
