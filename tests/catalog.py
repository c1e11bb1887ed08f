"""An independent picture of the catalog, object by object, for the round-trip laws: read with plain SQL, none of
pgstate's own readers, so that a test compares what PostgreSQL has, not what pgstate thinks it has."""

from __future__ import annotations

from typing import Any

from pgharness import TestDatabase

# Schemas that are not the application's: PostgreSQL's own, and pgstate's record of its runs.
SYSTEM = "('pg_catalog', 'information_schema', 'pgstate', 'pg_toast')"

QUERIES: dict[str, str] = {
    "table": f"""
        SELECT n.nspname || '.' || c.relname,
               json_build_object('kind', c.relkind, 'rls', c.relrowsecurity, 'forced', c.relforcerowsecurity,
                                 -- reloptions in order of name: their order in the array means nothing
                                 'options', ARRAY(SELECT unnest(c.reloptions) ORDER BY 1),
                                 'toast_options', ARRAY(SELECT unnest(t.reloptions) ORDER BY 1),
                                 'owner', c.relowner::regrole, 'acl', c.relacl)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN {SYSTEM} AND n.nspname NOT LIKE 'pg_temp%'""",
    "column": f"""
        SELECT n.nspname || '.' || c.relname || '.' || a.attname,
               json_build_object('type', format_type(a.atttypid, a.atttypmod), 'collation', co.collname,
                                 'not_null', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid))
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped AND n.nspname NOT IN {SYSTEM}""",
    "index": f"""
        SELECT n.nspname || '.' || c.relname,
               json_build_object('definition', pg_get_indexdef(i.indexrelid), 'valid', i.indisvalid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN {SYSTEM}""",
    "constraint": f"""
        SELECT n.nspname || '.' || t.relname || '.' || con.conname, to_json(pg_get_constraintdef(con.oid))
        FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname NOT IN {SYSTEM}""",
    "policy": f"""
        SELECT schemaname || '.' || tablename || '.' || policyname,
               json_build_object('permissive', permissive, 'roles', roles, 'command', cmd, 'using', qual,
                                 'with_check', with_check)
        FROM pg_policies WHERE schemaname NOT IN {SYSTEM}""",
    "function": f"""
        SELECT p.oid::regprocedure::text,
               json_build_object('definition', pg_get_functiondef(p.oid), 'acl', p.proacl, 'owner', p.proowner::regrole)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT IN {SYSTEM} AND p.prokind = 'f'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')""",
    "view": f"""
        SELECT n.nspname || '.' || c.relname,
               json_build_object('definition', pg_get_viewdef(c.oid),
                                 'options', ARRAY(SELECT unnest(c.reloptions) ORDER BY 1), 'acl', c.relacl,
                                 'owner', c.relowner::regrole)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN {SYSTEM}""",
    "trigger": f"""
        SELECT n.nspname || '.' || c.relname || '.' || tg.tgname, to_json(pg_get_triggerdef(tg.oid))
        FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT tg.tgisinternal AND n.nspname NOT IN {SYSTEM}""",
    "extension": """
        SELECT e.extname, json_build_object('version', e.extversion, 'schema', n.nspname)
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace""",
    "setting": """
        SELECT coalesce(r.rolname, '(every role)') || ' in ' || coalesce(d.datname, '(every database)'),
               -- in order of name: each name is set once, their order in the array means nothing
               to_json(ARRAY(SELECT unnest(s.setconfig) ORDER BY 1))
        FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
        LEFT JOIN pg_database d ON d.oid = s.setdatabase
        WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))""",
}


def snapshot(db: TestDatabase) -> dict[str, dict[str, Any]]:
    """Every object of every kind, by kind and name."""
    found: dict[str, dict[str, Any]] = {}
    with db.connect() as conn:
        for kind, text in QUERIES.items():
            found[kind] = {str(name): value for name, value in conn.execute(text.encode()).fetchall()}
    # The database's own name differs from test to test: settings are named by role only.
    found["setting"] = {
        name.replace(f" in {db.name}", " in (this database)"): v for name, v in found["setting"].items()
    }
    return found


def rows(db: TestDatabase) -> dict[str, str]:
    """A digest of every application table's rows (order-independent)."""
    with db.connect() as conn:
        tables = conn.execute(
            f"SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid ="
            f" c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN {SYSTEM}".encode()
        ).fetchall()
        return {
            table: str(
                conn.execute(
                    f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t".encode()
                ).fetchone()[0]
            )  # type: ignore[index]
            for (table,) in tables
        }


def differences(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """What differs, object by object, for an assertion message. An index INVALID before that is valid after is
    no difference: a run rebuilds INVALID indexes, and nothing brings one back (it would be useless)."""
    found = []
    for kind in sorted(set(before) | set(after)):
        old, new = before.get(kind, {}), after.get(kind, {})
        for name in sorted(set(old) | set(new)):
            was, now = old.get(name), new.get(name)
            if kind == "index" and was and now and was["valid"] is False and {**was, "valid": True} == now:
                continue
            if was != now:
                found.append(f"{kind} {name}: before {old.get(name)!r}, after {new.get(name)!r}")
    return found
