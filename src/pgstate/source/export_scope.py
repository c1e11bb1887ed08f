"""Which tables ``pgstate export --all`` writes: the application's own.

Every ordinary and partitioned table of the schemas named with ``--schema``, or, without it, of every schema
but those that are not the application's: the system's (``pg_*``, ``information_schema``), pgstate's own, the
schemas Supabase runs its services in (``auth``, ``storage``, ``realtime``, ...: their tables are Supabase's to
migrate) and schemas an extension created. ``--schema auth`` exports such a schema all the same.

Left out in any schema: tables an extension owns (its next version changes them), partitions (their parent's file
declares the indexes they inherit; name one to export it) and the bookkeeping tables of migration tools
(``_prisma_migrations``, ``alembic_version``, ...: the tool changes them on upgrade, and pgstate would then plan
to change them back). Export says what it left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ..catalog import query
from ..errors import PgstateError
from ..model.names import QualifiedName

# The schemas of Supabase's own services (auth, storage, realtime, edge functions' hooks, its migration
# history, GraphQL, pg_net, the pooler, Vault): present in every Supabase project, never the application's.
SUPABASE_SCHEMAS = (
    "_analytics",
    "_realtime",
    "auth",
    "cron",
    "extensions",
    "graphql",
    "graphql_public",
    "net",
    "pgbouncer",
    "pgsodium",
    "pgsodium_masks",
    "realtime",
    "storage",
    "supabase_functions",
    "supabase_migrations",
    "vault",
)
# Tables migration tools keep their own history in (Prisma, Alembic, Flyway, Liquibase, Rails, Django, Knex,
# node-pg-migrate, Sequelize, Entity Framework, goose, sqlx, Diesel, golang-migrate, Drizzle).
MIGRATION_TABLES = frozenset(
    {
        "_prisma_migrations",
        "alembic_version",
        "flyway_schema_history",
        "databasechangelog",
        "databasechangeloglock",
        "schema_migrations",
        "ar_internal_metadata",
        "django_migrations",
        "knex_migrations",
        "knex_migrations_lock",
        "pgmigrations",
        "SequelizeMeta",
        "__EFMigrationsHistory",
        "goose_db_version",
        "_sqlx_migrations",
        "__diesel_schema_migrations",
        "__drizzle_migrations",
    }
)


@dataclass(frozen=True)
class Discovered:
    """The tables ``--all`` found, and how many it left out and why."""

    tables: tuple[QualifiedName, ...]
    partitions: tuple[QualifiedName, ...] = ()
    migration_tables: tuple[QualifiedName, ...] = ()

    def left_out(self) -> str | None:
        """One line for people about what was left out, or None."""
        parts = []
        if self.partitions:
            count = len(self.partitions)
            parts.append(f"{count} partition{'s' if count > 1 else ''} (their parent's file covers them)")
        if self.migration_tables:
            names = ", ".join(str(name) for name in self.migration_tables)
            parts.append(f"the migration tool's own {names}")
        if not parts:
            return None
        return f"--all left out {' and '.join(parts)}; name a table to export it"


def discover_tables(conn: psycopg.Connection[Any], schemas: Sequence[str]) -> Discovered:
    """The tables of ``schemas`` (all the application's when empty); refuses a schema that does not exist, and
    finding no table at all."""
    wanted = sorted(set(schemas)) or None
    with conn.cursor() as cur:
        if wanted is not None:
            cur.execute(query("export_schemas"), {"schemas": wanted})
            existing = {row[0] for row in cur.fetchall()}
            missing = [name for name in wanted if name not in existing]
            if missing:
                raise PgstateError(
                    f"schema(s) not found: {', '.join(missing)}",
                    hint="names are case-sensitive, exactly as stored; see \\dn in psql",
                )
        cur.execute(query("export_tables"), {"schemas": wanted, "skipped": list(SUPABASE_SCHEMAS)})
        rows = cur.fetchall()
    tables, partitions, migrations = [], [], []
    for schema, table, is_partition in rows:
        name = QualifiedName(schema, table)
        if is_partition:
            partitions.append(name)
        elif table in MIGRATION_TABLES:
            migrations.append(name)
        else:
            tables.append(name)
    if not tables:
        where = f"schema(s) {', '.join(wanted)}" if wanted else "the application's schemas"
        raise PgstateError(
            f"export --all found no table in {where}",
            hint="name the schema: --all --schema NAME (auth, storage and the other Supabase schemas only so)",
        )
    return Discovered(tuple(tables), tuple(partitions), tuple(migrations))
