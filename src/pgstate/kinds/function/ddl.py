"""The statements of the function kind: every attribute spelled out, so that a replacement never silently
resets one (CREATE OR REPLACE FUNCTION takes the defaults for what it is not told)."""

from __future__ import annotations

from psycopg import sql

from .model import Function, FunctionSpec


def search_path_sql(schemas: tuple[str, ...]) -> sql.Composable:
    """``SET search_path TO a, b``; an empty path is the empty string (the catalog stores it as ``""``)."""
    if not schemas:
        return sql.SQL("SET search_path TO {}").format(sql.Literal(""))
    return sql.SQL("SET search_path TO {}").format(sql.SQL(", ").join(map(sql.Identifier, schemas)))


def _attributes(
    language: str,
    volatility: str,
    strict: bool,
    definer: bool,
    leakproof: bool,
    parallel: str,
    cost: float | None,
    rows: float | None,
    returns_set: bool,
) -> list[sql.Composable]:
    parts: list[sql.Composable] = [
        sql.SQL("LANGUAGE {}").format(sql.Identifier(language)),
        sql.SQL(volatility.upper()),
        sql.SQL("STRICT" if strict else "CALLED ON NULL INPUT"),
        sql.SQL("SECURITY DEFINER" if definer else "SECURITY INVOKER"),
        sql.SQL("LEAKPROOF" if leakproof else "NOT LEAKPROOF"),
        sql.SQL("PARALLEL {}").format(sql.SQL(parallel.upper())),
    ]
    if cost is not None:
        parts.append(sql.SQL("COST {}").format(sql.Literal(cost)))
    if rows is not None and returns_set:
        parts.append(sql.SQL("ROWS {}").format(sql.Literal(rows)))
    return parts


def _settings(settings: tuple[tuple[str, str], ...]) -> list[sql.Composable]:
    from .._records import dotted_name

    return [sql.SQL("SET {} = {}").format(dotted_name(name), sql.Literal(value)) for name, value in settings]


def function_sql(function: Function, *, replace_existing: bool) -> sql.Composed:
    """CREATE [OR REPLACE] FUNCTION from the catalog's own spelling of the arguments, result and SQL body."""
    returns_set = function.returns.startswith(("SETOF ", "TABLE("))
    parts: list[sql.Composable] = [
        sql.SQL("CREATE OR REPLACE FUNCTION" if replace_existing else "CREATE FUNCTION"),
        sql.SQL("{}({}) RETURNS {}").format(
            sql.Identifier(function.schema, function.name), sql.SQL(function.arguments), sql.SQL(function.returns)
        ),
        *_attributes(
            function.language,
            function.volatility,
            function.strict,
            function.security_definer,
            function.leakproof,
            function.parallel,
            function.cost,
            function.rows,
            returns_set,
        ),
    ]
    if function.search_path is not None:
        parts.append(search_path_sql(function.search_path))
    parts += _settings(function.settings_text)
    if function.sql_body is not None:
        parts.append(sql.SQL(function.sql_body))  # as pg_get_function_sqlbody printed it
    else:
        parts.append(sql.SQL("AS {}").format(sql.Literal(function.body or "")))
    return sql.SQL(" ").join(parts)


def function_spec_sql(spec: FunctionSpec, name: sql.Composable) -> sql.Composed:
    """CREATE FUNCTION as the YAML writes it: only ever run in pg_temp, inside the sandbox."""
    returns_set = spec.returns.strip().upper().startswith(("SETOF ", "TABLE"))
    parts: list[sql.Composable] = [
        sql.SQL("CREATE FUNCTION {}({}) RETURNS {}").format(name, sql.SQL(spec.arguments), sql.SQL(spec.returns)),
        *_attributes(
            spec.language,
            spec.volatility,
            spec.strict,
            spec.security_definer,
            spec.leakproof,
            spec.parallel,
            spec.cost,
            spec.rows,
            returns_set,
        ),
    ]
    if spec.search_path is not None:
        parts.append(search_path_sql(spec.search_path))
    parts += _settings(spec.settings)
    if spec.sql_body is not None:
        parts.append(sql.SQL(spec.sql_body))
    else:
        parts.append(sql.SQL("AS {}").format(sql.Literal(spec.body or "")))
    return sql.SQL(" ").join(parts)


def placeholder_sql(spec: FunctionSpec, name: sql.Composable) -> sql.Composed:
    """A function of the spec's arguments and nothing else, to learn how the server spells their types (a
    function declared absent has no body)."""
    return sql.SQL("CREATE FUNCTION {}({}) RETURNS void LANGUAGE sql AS ''").format(name, sql.SQL(spec.arguments))


def drop_function_sql(function: Function) -> sql.Composed:
    return sql.SQL("DROP FUNCTION {}({})").format(
        sql.Identifier(function.schema, function.name), sql.SQL(function.identity_arguments)
    )
