"""The statements pgstate runs, built with psycopg.sql: identifiers quoted, fragments only as the server printed
them (or, on temporary copies inside a rolled-back transaction, as written, to be parsed)."""

from __future__ import annotations

from psycopg import sql

from .desired import FunctionSpec, IndexSpec, KeySpec, PolicySpec
from .model import Function, Index, IndexKey, Policy, View


def create_index_sql(
    spec_or_index: IndexSpec | Index,
    table: sql.Composable,
    *,
    name: str | None,
    concurrently: bool = False,
) -> sql.Composed:
    """CREATE INDEX for a spec (fragments as written: only ever run on a temporary copy) or a model index."""
    if isinstance(spec_or_index, IndexSpec):
        keys = [_spec_key_sql(k) for k in spec_or_index.keys]
        predicate = spec_or_index.where
    else:
        keys = [index_key_sql(k) for k in spec_or_index.keys]
        predicate = spec_or_index.predicate
    parts: list[sql.Composable] = [
        sql.SQL("CREATE UNIQUE INDEX" if spec_or_index.unique else "CREATE INDEX"),
    ]
    if concurrently:
        parts.append(sql.SQL("CONCURRENTLY"))
    if name is not None:
        parts.append(sql.Identifier(name))
    parts.append(
        sql.SQL("ON {} USING {} ({})").format(table, sql.Identifier(spec_or_index.method), sql.SQL(", ").join(keys))
    )
    if spec_or_index.include:
        parts.append(sql.SQL("INCLUDE ({})").format(sql.SQL(", ").join(map(sql.Identifier, spec_or_index.include))))
    if predicate is not None:
        parts.append(sql.SQL("WHERE ({})").format(sql.SQL(predicate)))
    return sql.SQL(" ").join(parts)


def alter_type_sql(table: sql.Composable, column: str, type_name: str, using: str | None) -> sql.Composed:
    """ALTER ... TYPE with USING; without one, the column is cast to the new type (``"c"::type``)."""
    new_type = sql.SQL(type_name)  # as format_type printed it
    conversion = (
        sql.SQL(using)  # parsed by the server, alone and on an empty copy, before it gets here
        if using is not None
        else sql.SQL("{}::{}").format(sql.Identifier(column), new_type)
    )
    return sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING ({})").format(
        table, sql.Identifier(column), new_type, conversion
    )


def _spec_key_sql(key: KeySpec) -> sql.Composable:
    # An operator class from YAML is a name, quoted as one (``name`` or ``schema.name``).
    opclass = sql.Identifier(*key.opclass.split(".", 1)) if key.opclass else None
    return _key_sql(key.column, key.expression, key.descending, key.nulls_first, opclass, None)


def index_key_sql(key: IndexKey) -> sql.Composable:
    # In the model, operator classes and collations are as the catalog query printed them with quote_ident.
    opclass = sql.SQL(key.opclass) if key.opclass else None
    return _key_sql(key.column, key.expression, key.descending, key.nulls_first, opclass, key.collation)


def _key_sql(
    column: str | None,
    expression: str | None,
    descending: bool,
    nulls_first: bool,
    opclass: sql.Composable | None,
    collation: str | None,
) -> sql.Composable:
    parts: list[sql.Composable] = [
        sql.Identifier(column) if column is not None else sql.SQL("({})").format(sql.SQL(expression or ""))
    ]
    if collation:
        parts.append(sql.SQL("COLLATE {}").format(sql.SQL(collation)))  # quote_ident'ed by the catalog
    if opclass is not None:
        parts.append(opclass)
    if descending:
        parts.append(sql.SQL("DESC"))
    if nulls_first != descending:  # only when it differs from PostgreSQL's default for the order
        parts.append(sql.SQL("NULLS FIRST" if nulls_first else "NULLS LAST"))
    return sql.SQL(" ").join(parts)


COMMANDS = {"all": "ALL", "select": "SELECT", "insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}


def roles_sql(roles: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("PUBLIC") if role == "public" else sql.Identifier(role) for role in roles)


def create_policy_sql(policy: PolicySpec | Policy, table: sql.Composable) -> sql.Composed:
    """CREATE POLICY from a spec (fragments as written: only on a temporary copy) or a model."""
    using, with_check = (
        (policy.using, policy.with_check)
        if isinstance(policy, PolicySpec)
        else (policy.using_sql, policy.with_check_sql)
    )
    parts: list[sql.Composable] = [
        sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            sql.Identifier(policy.name),
            table,
            sql.SQL("PERMISSIVE" if policy.permissive else "RESTRICTIVE"),
            sql.SQL(COMMANDS[policy.command]),
            roles_sql(policy.roles),
        )
    ]
    parts += _policy_expressions(using, with_check)
    return sql.SQL(" ").join(parts)


def _policy_expressions(using: str | None, with_check: str | None) -> list[sql.Composable]:
    parts: list[sql.Composable] = []
    if using is not None:
        parts.append(sql.SQL("USING ({})").format(sql.SQL(using)))
    if with_check is not None:
        parts.append(sql.SQL("WITH CHECK ({})").format(sql.SQL(with_check)))
    return parts


def alter_policy_sql(policy: Policy, table: sql.Composable) -> sql.Composed:
    """ALTER POLICY: roles, USING and WITH CHECK can change in place (command and permissiveness cannot)."""
    parts: list[sql.Composable] = [
        sql.SQL("ALTER POLICY {} ON {} TO {}").format(sql.Identifier(policy.name), table, roles_sql(policy.roles))
    ]
    parts += _policy_expressions(policy.using_sql, policy.with_check_sql)
    return sql.SQL(" ").join(parts)


def drop_policy_sql(policy: Policy, table: sql.Composable) -> sql.Composed:
    return sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(policy.name), table)


def function_sql(function: Function, *, replace_existing: bool, search_path: str | None) -> sql.Composed:
    """CREATE [OR REPLACE] FUNCTION from the catalog's own spelling of the arguments and result; the body as a
    literal. ``search_path`` is the setting as the catalog stored it for the desired function."""
    parts: list[sql.Composable] = [
        sql.SQL("CREATE OR REPLACE FUNCTION" if replace_existing else "CREATE FUNCTION"),
        sql.SQL("{}({}) RETURNS {}").format(
            sql.Identifier(function.schema, function.name), sql.SQL(function.arguments), sql.SQL(function.returns)
        ),
        sql.SQL("LANGUAGE {}").format(sql.Identifier(function.language)),
        sql.SQL(function.volatility.upper()),
        sql.SQL("SECURITY DEFINER" if function.security_definer else "SECURITY INVOKER"),
    ]
    if search_path is not None:
        parts.append(sql.SQL("SET search_path TO {}").format(sql.SQL(search_path)))
    parts.append(sql.SQL("AS {}").format(sql.Literal(function.body)))
    return sql.SQL(" ").join(parts)


def function_spec_sql(spec: FunctionSpec, name: sql.Composable) -> sql.Composed:
    """CREATE FUNCTION as the YAML writes it: only ever run in pg_temp, inside a rolled-back transaction."""
    parts: list[sql.Composable] = [
        sql.SQL("CREATE FUNCTION {}({}) RETURNS {}").format(name, sql.SQL(spec.arguments), sql.SQL(spec.returns)),
        sql.SQL("LANGUAGE {}").format(sql.Identifier(spec.language)),
        sql.SQL(spec.volatility.upper()),
        sql.SQL("SECURITY DEFINER" if spec.security_definer else "SECURITY INVOKER"),
    ]
    if spec.search_path is not None:
        parts.append(sql.SQL("SET search_path TO {}").format(sql.SQL(", ").join(map(sql.Identifier, spec.search_path))))
    parts.append(sql.SQL("AS {}").format(sql.Literal(spec.body)))
    return sql.SQL(" ").join(parts)


def drop_function_sql(function: Function) -> sql.Composed:
    return sql.SQL("DROP FUNCTION {}({})").format(
        sql.Identifier(function.schema, function.name), sql.SQL(function.identity_arguments)
    )


def view_sql(
    name: sql.Composable, definition: str, *, replace_existing: bool, options: tuple[str, ...] = ()
) -> sql.Composed:
    """CREATE [OR REPLACE] VIEW with a definition as pg_get_viewdef printed it (its final ';' removed).

    ``options``: the live view's (security_invoker, ...): CREATE OR REPLACE without them would reset them."""
    query = definition.strip().removesuffix(";")
    verb = "CREATE OR REPLACE VIEW" if replace_existing else "CREATE VIEW"
    return sql.SQL("{} {}{} AS {}").format(sql.SQL(verb), name, view_options_sql(options), sql.SQL(query))


def drop_view_sql(view: View) -> sql.Composed:
    return sql.SQL("DROP VIEW {}").format(view.name.identifier())


def restore_access_sql(
    kind: str, name: sql.Composable, owner: str, grants: tuple[str, ...] | None
) -> list[sql.Composed]:
    """Give an object that was dropped and created its owner and privileges back (``grants`` as the catalog
    queries list them: ``role privilege``, role quote_ident'ed or PUBLIC; None: the defaults, nothing to do).

    ``kind`` is FUNCTION or VIEW; GRANT and REVOKE name a view as a TABLE."""
    statements = [sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(kind), name, sql.Identifier(owner))]
    kind = "TABLE" if kind == "VIEW" else kind
    if grants is None:
        return statements
    statements.append(sql.SQL("REVOKE ALL ON {} {} FROM PUBLIC").format(sql.SQL(kind), name))
    for grant in grants:
        role, privilege = grant.rsplit(" ", 1)
        grantee = sql.SQL("PUBLIC") if role == "PUBLIC" else sql.SQL(role)  # quote_ident'ed by the catalog query
        statements.append(sql.SQL("GRANT {} ON {} {} TO {}").format(sql.SQL(privilege), sql.SQL(kind), name, grantee))
    return statements


def view_options_sql(options: tuple[str, ...]) -> sql.Composable:
    """``WITH (name = value, ...)`` for a view's reloptions as the catalog stores them (``name=value``)."""
    if not options:
        return sql.SQL("")
    pairs = [option.partition("=") for option in options]
    return sql.SQL(" WITH ({})").format(
        sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(n), sql.Literal(v)) for n, _, v in pairs)
    )
