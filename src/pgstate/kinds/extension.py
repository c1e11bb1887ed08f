"""Extensions of the database: created when available (in a declared schema, at a declared version), updated
to a declared version, moved to a declared schema, dropped when declared ``present: false``.

One that needs ``shared_preload_libraries`` (``pg_stat_statements``, ...) is created, and the plan prints the
exact line to add and that a restart is needed; drift shows it until it works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg import sql

from ..catalog.reader import Reader
from ..errors import PgstateError, SourceLocation
from ..model.keys import ObjectKey
from ..planning.diff import Change, Difference
from ..planning.findings import Finding, FindingClass
from ..planning.steps import Action, Lock, Phase, Step
from ..sandbox.session import Sandbox
from ..source.compose import Part
from ..source.documents import Header
from .base import Desired, Kind, Live, register
from .context import PlanContext

# Extensions whose library must be loaded at server start to work (their documentation says so).
NEEDS_PRELOAD = frozenset(
    {
        "pg_stat_statements",
        "pg_cron",
        "timescaledb",
        "pg_stat_kcache",
        "pg_wait_sampling",
        "pgaudit",
        "pg_qualstats",
        "pg_squeeze",
        "pg_partman_bgw",
    }
)


@dataclass(frozen=True)
class ExtensionSpec:
    key: ObjectKey
    location: SourceLocation
    name: str
    version: str | None
    schema: str | None
    present: bool
    raw: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Extension:
    name: str
    version: str | None = None  # desired: None when any version will do
    schema: str | None = None
    relocatable: bool = field(default=True, compare=False)
    reachable: tuple[str, ...] = field(default=(), compare=False)  # versions an update can go to


@dataclass(frozen=True)
class Available:
    default_version: str | None
    versions: tuple[str, ...]


@dataclass(frozen=True)
class ExtensionLive(Live[Extension]):
    available: dict[str, Available] = field(default_factory=dict)
    preloaded: frozenset[str] = frozenset()


def key_of(name: str) -> ObjectKey:
    return ObjectKey("extension", (name,), name)


class ExtensionKind(Kind[ExtensionSpec, Extension]):
    live_type = ExtensionLive
    name = "extension"
    document = "database"
    keys = ("extensions",)

    def parse(self, header: Header) -> list[ExtensionSpec]:
        specs = []
        for position, raw in enumerate(header.get("extensions") or []):
            entry: dict[str, Any] = {"name": raw} if isinstance(raw, str) else raw
            specs.append(
                ExtensionSpec(
                    key_of(entry["name"]),
                    header.locate("extensions", position),
                    entry["name"],
                    None if entry.get("version") is None else str(entry["version"]),
                    entry.get("schema"),
                    entry.get("present", True) is not False,
                    raw,
                )
            )
        return specs

    def check(self, specs: Sequence[ExtensionSpec]) -> list[PgstateError]:
        first: dict[str, SourceLocation] = {}
        problems = []
        for spec in specs:
            seen = first.setdefault(spec.name, spec.location)
            if seen is not spec.location:
                problems.append(
                    PgstateError(
                        f"extension {spec.name} is listed twice (first at {seen})",
                        location=spec.location,
                        hint="list each extension once",
                    )
                )
        return problems

    def read(self, reader: Reader, specs: Sequence[ExtensionSpec]) -> ExtensionLive:
        if not specs and not reader.exporting(self.document):
            return ExtensionLive({})
        objects, available = {}, {}
        for name, default, versions, installed, schema, relocatable, reachable in reader.rows("extensions"):
            if default is not None:
                available[name] = Available(default, tuple(versions))
            if installed is not None:
                objects[key_of(name)] = Extension(name, installed, schema, bool(relocatable), tuple(reachable or ()))
        reader.cur.execute("SELECT current_setting('shared_preload_libraries')")
        row = reader.cur.fetchone()
        preloaded = frozenset(part.strip().strip('"') for part in str(row[0] if row else "").split(",") if part.strip())
        return ExtensionLive(objects, available, preloaded)

    def canonicalize(
        self, sandbox: Sandbox, specs: Sequence[ExtensionSpec], live: Live[Extension]
    ) -> Desired[Extension]:
        objects = {}
        for spec in specs:
            if not spec.present:
                continue
            current = live.objects.get(spec.key)
            # What is not declared is whatever it is (or will be).
            version = spec.version if spec.version is not None else (current.version if current else None)
            schema = spec.schema if spec.schema is not None else (current.schema if current else None)
            objects[spec.key] = Extension(spec.name, version, schema)
        return Desired(
            objects,
            {spec.key: spec.location for spec in specs if not spec.present},
            {spec.key: spec.location for spec in specs},
        )

    def differences(self, desired: Desired[Extension], live: Live[Extension], context: PlanContext) -> list[Difference]:
        assert isinstance(live, ExtensionLive)
        # An extension the server does not have is a notice (install its package), never a step.
        found = super().differences(desired, live, context)
        return [d for d in found if d.change is not Change.ADDED or d.key.parts[0] in live.available]

    def problems(self, differences: Sequence[Difference], context: PlanContext) -> list[PgstateError]:
        live: ExtensionLive = context.live.of(self.name)
        problems = []
        for difference in differences:
            wanted: Extension | None = difference.desired
            if wanted is None:
                continue
            offered = live.available.get(wanted.name)
            if wanted.version is not None and offered is not None and wanted.version not in offered.versions:
                problems.append(
                    PgstateError(
                        f"extension {wanted.name} has no version {wanted.version!r} on this server"
                        f" (it offers {', '.join(offered.versions)})",
                        location=difference.location,
                        hint="declare a version the server offers, or install the extension's newer package",
                    )
                )
            current: Extension | None = difference.live
            if (
                current is not None
                and wanted.version is not None
                and wanted.version != current.version
                and wanted.version not in current.reachable
            ):
                problems.append(
                    PgstateError(
                        f"extension {wanted.name} cannot go from version {current.version} to {wanted.version}:"
                        " the server has no update path between them (an extension is never downgraded)",
                        location=difference.location,
                        hint=f"declare a version it can update to ({', '.join(current.reachable) or 'none'}), or"
                        " drop and create it by hand",
                    )
                )
            if current is not None and wanted.schema != current.schema and not current.relocatable:
                problems.append(
                    PgstateError(
                        f"extension {wanted.name} is in schema {current.schema} and cannot be moved to"
                        f" {wanted.schema} (it is not relocatable)",
                        location=difference.location,
                        hint="declare its current schema, or drop and create it by hand",
                    )
                )
        return problems

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        steps = []
        for difference in differences:
            name = sql.Identifier(difference.key.parts[0])
            if difference.change is Change.ADDED:
                wanted: Extension = difference.desired
                statement = sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(name)
                if wanted.schema is not None:
                    statement = sql.SQL("{} SCHEMA {}").format(statement, sql.Identifier(wanted.schema))
                if wanted.version is not None:
                    statement = sql.SQL("{} VERSION {}").format(statement, sql.Literal(wanted.version))
                steps.append(
                    _step(difference, Action.CREATE_EXTENSION, statement, "install the extension in this database")
                )
            elif difference.change is Change.REMOVED:
                steps.append(
                    _step(
                        difference,
                        Action.DROP_EXTENSION,
                        sql.SQL("DROP EXTENSION {}").format(name),
                        "declared absent (present: false)",
                    )
                )
            else:
                wanted, current = difference.desired, difference.live
                if wanted.version != current.version:
                    steps.append(
                        _step(
                            difference,
                            Action.ALTER_EXTENSION,
                            sql.SQL("ALTER EXTENSION {} UPDATE TO {}").format(name, sql.Literal(wanted.version)),
                            f"version {current.version} -> {wanted.version}",
                        )
                    )
                if wanted.schema is not None and wanted.schema != current.schema:
                    steps.append(
                        replace(
                            _step(
                                difference,
                                Action.ALTER_EXTENSION,
                                sql.SQL("ALTER EXTENSION {} SET SCHEMA {}").format(name, sql.Identifier(wanted.schema)),
                                f"schema {current.schema} -> {wanted.schema}",
                            ),
                            subject=ObjectKey(
                                "extension", (*difference.key.parts, "schema"), f"{difference.key} schema"
                            ),
                            makes_subject=False,
                        )
                    )
        return steps

    def notes(self, desired: Desired[Extension], live: Live[Extension], context: PlanContext) -> list[Finding]:
        assert isinstance(live, ExtensionLive)
        found = []
        for spec in context.specs.of(self.name):
            if not spec.present:
                continue
            if spec.name not in live.available and spec.key not in live.objects:
                found.append(
                    Finding(
                        "extension",
                        self.name,
                        spec.key,
                        "",
                        f"extension {spec.name} is not available on this server: install its package",
                        location=spec.location,
                        cls=FindingClass.ACTION,
                    )
                )
            elif spec.name in NEEDS_PRELOAD and spec.name not in live.preloaded:
                libraries = ", ".join(sorted({*live.preloaded, spec.name}))
                found.append(
                    Finding(
                        "extension",
                        self.name,
                        spec.key,
                        "",
                        f"extension {spec.name} needs its"
                        f" library loaded at server start: add `shared_preload_libraries ="
                        f" '{libraries}'` to postgresql.conf and restart the server",
                        location=spec.location,
                        cls=FindingClass.ACTION,
                    )
                )
        return found

    def describe(self, obj: Extension) -> str:
        return f"{obj.name} {obj.version or ''}".strip() + (f" in schema {obj.schema}" if obj.schema else "")

    def to_yaml(self, key: ObjectKey, obj: Extension) -> list[Part]:
        entry = {"name": obj.name, "version": obj.version, "schema": obj.schema}
        return [
            Part(
                "database",
                (),
                ("database", "extensions"),
                {k: v for k, v in entry.items() if v is not None},
                append=True,
            )
        ]

    def export_parts(self, specs: Sequence[ExtensionSpec], live: Live[Extension], tables: Sequence[Any]) -> list[Any]:
        # The procedural languages every database has (plpgsql, in pg_catalog) are not the application's.
        return [
            part
            for key, obj in sorted(live.objects.items())
            if obj.schema != "pg_catalog"
            for part in self.to_yaml(key, obj)
        ]

    def absent_yaml(self, key: ObjectKey, desired: Desired[Extension]) -> list[Part]:
        entry = {"name": key.parts[0], "present": False}
        return [Part("database", (), ("database", "extensions"), entry, append=True)]


def _step(difference: Difference, action: Action, statement: sql.SQL | sql.Composed, summary: str) -> Step:
    return Step(
        action=action,
        subject=difference.key,
        statement=statement,
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=summary,
        location=difference.location,
    )


register(ExtensionKind())
