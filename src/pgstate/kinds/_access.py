"""Owner and privileges given back to an object that is dropped and created (a function whose signature changes,
a view whose columns change), or created again by a rollback after a run dropped it: dropping loses them, a
``REVOKE FROM PUBLIC`` among them. The format has no words for them; the pre-run state records them apart."""

from __future__ import annotations

from psycopg import sql


def restore_access_sql(
    kind: str, name: sql.Composable, owner: str, grants: tuple[str, ...] | None
) -> list[sql.Composed]:
    """``grants`` as the catalog queries list them: ``role privilege``, role quote_ident'ed or PUBLIC; None: the
    defaults, nothing to do. ``kind`` is FUNCTION or VIEW; GRANT and REVOKE name a view as a TABLE."""
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
