"""Reading functions: the catalog's rows into the model, and whether a spec is written as a live one prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from psycopg import sql

from ...model.names import parse_identifier_list
from ...sandbox.session import Sandbox
from ...units import SettingInfo, setting_value
from .model import Function, FunctionSpec


def _catalog(sandbox: Sandbox, specs: Sequence[FunctionSpec]) -> Mapping[str, SettingInfo]:
    if not any(spec.settings for spec in specs):
        return {}
    rows = sandbox.rows(
        sql.SQL("SELECT name, setting, unit, vartype, context, coalesce(enumvals, '{}') FROM pg_settings")
    )
    return {row[0]: SettingInfo(row[0], row[1], row[2], row[3], row[4], tuple(row[5])) for row in rows}


def _from_row(row: tuple[Any, ...], catalog: Mapping[str, SettingInfo]) -> Function:
    (
        oid,
        schema,
        name,
        argument_types,
        identity,
        arguments,
        returns,
        language,
        volatility,
        definer,
        strict,
        leakproof,
        parallel,
        cost,
        rows,
        _returns_set,
        config,
        body,
        sql_body,
        owner,
        grants,
        unsupported,
    ) = row
    search_path = None
    settings: list[tuple[str, str]] = []
    for entry in config:
        key, _, value = entry.partition("=")
        if key == "search_path":
            search_path = parse_identifier_list(value)
        else:
            settings.append((key, value))
    return Function(
        schema=schema,
        name=name,
        argument_types=argument_types,
        arguments=arguments,
        returns=returns,
        language=language,
        volatility=volatility,
        security_definer=definer,
        strict=strict,
        leakproof=leakproof,
        parallel=parallel,
        cost=float(cost),
        rows=float(rows),
        search_path=search_path,
        # Compared as a set of names (each is set on entry, their order means nothing); kept as written, in order.
        settings=tuple(sorted((key, setting_value(value, catalog.get(key))) for key, value in settings)),
        normalized_body=body.strip() if body is not None else None,
        sql_body=sql_body,
        body=body,
        settings_text=tuple(settings),
        identity_arguments=identity,
        owner=owner,
        grants=tuple(grants) if grants is not None else None,
        unsupported=unsupported or "",
        oid=int(oid),
    )


def _written_as(spec: FunctionSpec, overloads: list[Function]) -> Function | None:
    """The live overload the spec describes exactly as the catalog prints it (then no server is needed)."""
    for function in overloads:
        if (
            spec.arguments == function.arguments
            and spec.returns == function.returns
            and spec.language == function.language
            and spec.volatility == function.volatility
            and spec.security_definer == function.security_definer
            and spec.strict == function.strict
            and spec.leakproof == function.leakproof
            and spec.parallel == function.parallel
            and (spec.cost if spec.cost is not None else 100.0) == function.cost
            and (spec.rows if spec.rows is not None else function.rows) == function.rows
            and spec.search_path == function.search_path
            and sorted(spec.settings) == sorted(function.settings_text)
            and (
                (spec.body or "").strip() == (function.body or "").strip()
                if spec.sql_body is None
                else spec.sql_body == function.sql_body
            )
            and not function.unsupported
        ):
            return replace(function, owner="", grants=None, oid=0)
    return None
