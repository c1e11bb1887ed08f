"""`export`: desired YAML from the live database; exporting and then planning gives no steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pgharness import TestDatabase, run_pgstate_inprocess
from pgstate.errors import PgstateError
from pgstate.model.names import QualifiedName
from pgstate.source.documents import validate_documents
from pgstate.source.export import ExportTargets, export, parse_table_argument
from pgstate.source.export_files import FileNamer, schema_reference
from pgstate.source.loader import load_documents

ROOT = Path(__file__).resolve().parent.parent
SEED_TABLES = ["User", "InterviewSession", "Transcript", "Feedback", "UsageEvent", "interviews"]

AWKWARD = r'''
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."we""ird" (
    id bigint PRIMARY KEY,
    "Full Name" text,
    "say ""hi""" varchar(40),
    "Email" text COLLATE "C",
    tags text[],
    doc jsonb,
    score numeric(6,2),
    status text,
    owner uuid,
    created timestamp(3) with time zone
);
CREATE INDEX "lower email" ON "My Schema"."we""ird" (lower("Email"));
CREATE INDEX "partial.idx" ON "My Schema"."we""ird" ("Full Name")
    WHERE status <> 'it''s
a "multi-line" {value}: yes' AND "say ""hi""" IS NOT NULL;
CREATE INDEX sort_keys ON "My Schema"."we""ird" (score DESC NULLS FIRST, created DESC NULLS LAST, id NULLS FIRST);
CREATE INDEX "Pattern" ON "My Schema"."we""ird" ("Full Name" text_pattern_ops);
CREATE UNIQUE INDEX covering ON "My Schema"."we""ird" (owner, id) INCLUDE ("Email", score);
CREATE INDEX doc_gin ON "My Schema"."we""ird" USING gin (doc jsonb_path_ops);
CREATE INDEX tags_gin ON "My Schema"."we""ird" USING gin (tags);
ALTER TABLE "My Schema"."we""ird" ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY "owner's rows" ON "My Schema"."we""ird" AS RESTRICTIVE FOR UPDATE TO authenticated, anon
    USING (owner = auth.uid()) WITH CHECK (owner = auth.uid() AND status IN ('on', 'yes', '1.0'));
CREATE POLICY "Everyone reads" ON "My Schema"."we""ird" FOR SELECT USING (true);
CREATE POLICY insert_own ON "My Schema"."we""ird" FOR INSERT TO authenticated WITH CHECK (owner = auth.uid());
ALTER TABLE "My Schema"."we""ird" SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_enabled = on, toast.autovacuum_enabled = false, toast.autovacuum_vacuum_cost_delay = 2.5);

CREATE TABLE public."a.b" ("Upper Col" integer, "with space" text, "x.y" numeric);
CREATE INDEX "a.b idx" ON public."a.b" ("Upper Col", "with space") WHERE "x.y" > 1.0;
ALTER TABLE public."a.b" SET (vacuum_index_cleanup = auto, parallel_workers = 2);

CREATE TABLE "My Schema"."Upper Case" ("Id" serial PRIMARY KEY, "Name" text);
CREATE INDEX "Upper Case name" ON "My Schema"."Upper Case" (("Name" || '*'), "Id" DESC);
ALTER TABLE "My Schema"."Upper Case" ENABLE ROW LEVEL SECURITY;
'''
AWKWARD_TABLES = [
    QualifiedName("My Schema", 'we"ird'),
    QualifiedName("public", "a.b"),
    QualifiedName("My Schema", "Upper Case"),
]


def _export(database: TestDatabase, tables: list[QualifiedName], out: Path, warnings: list[str]) -> list[Path]:
    with database.connect() as conn:
        return export(
            conn, ExportTargets(tuple(tables)), out, schema_ref="../desired.schema.json", warn=warnings.append
        ).paths


def file_name(name: QualifiedName) -> str:
    """Where export writes a table's file, relative to the output directory (no other table shares its name)."""
    return FileNamer("public", []).path({"table": name.name, "schema": name.schema}).as_posix()


def _converged(database: TestDatabase, out: Path) -> list[dict[str, str]]:
    """plan has no steps; the drift findings (JSON)."""
    common = ["--desired", str(out), "--database-url", database.url]
    plan = run_pgstate_inprocess(["plan", *common])
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    drift = run_pgstate_inprocess(["drift", *common, "--format", "json"])
    findings: list[dict[str, str]] = json.loads(drift.stdout)["findings"]
    assert drift.exit_code == (2 if findings else 0), drift.stderr
    return findings


def test_seed_app_round_trip(database: TestDatabase, tmp_path: Path) -> None:
    database.execute((ROOT / "seed" / "app.sql").read_text())
    warnings: list[str] = []
    written = _export(database, [parse_table_argument(name) for name in SEED_TABLES], tmp_path, warnings)
    assert warnings == []
    assert len(written) == len(SEED_TABLES)
    validate_documents(load_documents(tmp_path))
    assert _converged(database, tmp_path) == []
    user = yaml.safe_load((tmp_path / file_name(QualifiedName("public", "User"))).read_text())
    assert list(user) == ["table", "schema", "columns", "indexes", "prune_indexes", "rls", "policies", "storage"]
    assert user["prune_indexes"] is False
    assert [index["name"] for index in user["indexes"]] == ["User_credits_idx", "User_isPremium_idx"]


def test_awkward_identifiers_round_trip(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(AWKWARD)
    warnings: list[str] = []
    written = _export(database, AWKWARD_TABLES, tmp_path, warnings)
    assert warnings == []
    assert sorted(path.relative_to(tmp_path).as_posix() for path in written) == sorted(
        file_name(name) for name in AWKWARD_TABLES
    )
    assert file_name(AWKWARD_TABLES[1]) == "a.b.yaml" and file_name(AWKWARD_TABLES[2]) == "My Schema/Upper Case.yaml"
    assert file_name(AWKWARD_TABLES[0]).startswith("My Schema/we_ird-")  # a double quote is not portable
    validate_documents(load_documents(tmp_path))
    assert _converged(database, tmp_path) == []

    weird = yaml.safe_load((tmp_path / file_name(AWKWARD_TABLES[0])).read_text())
    assert weird["table"] == 'we"ird' and weird["schema"] == "My Schema"
    assert weird["rls"] == {"enabled": True, "forced": True}
    assert [p["name"] for p in weird["policies"]] == ["Everyone reads", "insert_own", "owner's rows"]
    assert weird["policies"][2]["roles"] == ["anon", "authenticated"] and weird["policies"][2]["permissive"] is False
    assert weird["storage"] == {
        "autovacuum_enabled": "on",
        "autovacuum_vacuum_scale_factor": 0.05,
        "fillfactor": 70,
        "toast.autovacuum_enabled": False,
        "toast.autovacuum_vacuum_cost_delay": 2.5,
    }
    names = [index["name"] for index in weird["indexes"]]
    assert names == sorted(names) and 'we"ird_pkey' not in names and len(names) == 7
    partial = next(index for index in weird["indexes"] if index["name"] == "partial.idx")
    assert "it''s\na \"multi-line\" {value}: yes" in partial["where"]


def test_exported_plan_sees_changes(database: TestDatabase, tmp_path: Path) -> None:
    """The export is not vacuous: a change to the live table after exporting is a step."""
    database.execute(AWKWARD)
    _export(database, AWKWARD_TABLES, tmp_path, [])
    database.execute('ALTER TABLE public."a.b" SET (parallel_workers = 4); DROP INDEX "My Schema"."Pattern"')
    plan = run_pgstate_inprocess(["plan", "--desired", str(tmp_path), "--database-url", database.url])
    assert plan.exit_code == 2, plan.stdout + plan.stderr
    assert "Pattern" in plan.stdout and "parallel_workers" in plan.stdout


def test_output_is_stable(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(AWKWARD)
    out = tmp_path / "a"
    first = {path.relative_to(out): path.read_bytes() for path in _export(database, AWKWARD_TABLES, out, [])}
    # Another order, a duplicate, the same directory again: the same files, byte for byte.
    again = _export(database, [*reversed(AWKWARD_TABLES), AWKWARD_TABLES[0]], out, [])
    assert {path.relative_to(out): path.read_bytes() for path in again} == first
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == sorted(first)
    for content in first.values():
        lines = content.decode().splitlines()
        assert lines[0] == "# yaml-language-server: $schema=../desired.schema.json"
        assert lines[1].startswith("# Exported by pgstate")
        assert lines[2].startswith("table: ")


def test_missing_table_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(AWKWARD)
    with pytest.raises(PgstateError) as raised:
        _export(
            database,
            [QualifiedName("public", "a.b"), QualifiedName("public", "nope"), QualifiedName("my schema", "upper case")],
            tmp_path / "out",
            [],
        )
    message = raised.value.render()
    assert "public.nope" in message and '"my schema"."upper case"' in message and "a.b" not in raised.value.message
    assert 'table "My Schema"."Upper Case"' in (raised.value.hint or "")  # the same name in another case
    assert not (tmp_path / "out").exists()  # nothing written


def test_collated_columns_and_index_round_trip(database: TestDatabase, tmp_path: Path) -> None:
    """A key with its own collation, and a column's, are exported (a rollback would otherwise replace them)."""
    database.execute(
        'CREATE TABLE t (name text, code text COLLATE "C"); CREATE INDEX t_name_c ON t (name COLLATE "C");'
        " CREATE INDEX t_code ON t (code)"
    )
    warnings: list[str] = []
    (path,) = _export(database, [QualifiedName("public", "t")], tmp_path, warnings)
    assert warnings == []
    document = yaml.safe_load(path.read_text())
    assert [index["name"] for index in document["indexes"]] == ["t_code", "t_name_c"]
    assert document["indexes"][1]["columns"] == [{"column": "name", "collation": "C"}]
    assert document["columns"]["code"] == {"type": "text", "collation": "C"}
    assert _converged(database, tmp_path) == []


def test_an_index_the_format_cannot_express_is_left_out_with_a_warning(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "CREATE EXTENSION IF NOT EXISTS bloom; CREATE TABLE t (a int); CREATE INDEX t_a_bloom ON t"
        " USING bloom (a); CREATE INDEX t_a ON t (a)"
    )
    warnings: list[str] = []
    (path,) = _export(database, [QualifiedName("public", "t")], tmp_path, warnings)
    assert len(warnings) == 1 and "t_a_bloom" in warnings[0] and "access method bloom" in warnings[0]
    assert [index["name"] for index in yaml.safe_load(path.read_text())["indexes"]] == ["t_a"]
    # prune_indexes: false, so the plan leaves it alone; drift lists it as information, and does not exit 2.
    assert _converged(database, tmp_path) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("users", QualifiedName("public", "users")),
        ("User", QualifiedName("public", "User")),
        ("app.Orders", QualifiedName("app", "Orders")),
        ('public."User"', QualifiedName("public", "User")),
        ('"My Schema"."Weird.Name"', QualifiedName("My Schema", "Weird.Name")),
        ('"we""ird"', QualifiedName("public", 'we"ird')),
        ("Upper Case", QualifiedName("public", "Upper Case")),
    ],
)
def test_parse_table_argument(text: str, expected: QualifiedName) -> None:
    assert parse_table_argument(text) == expected


@pytest.mark.parametrize("text", ["", ".t", "s.", "a.b.c", '"open', 'a"b', '"a"b', '"".t', "x" * 64])
def test_parse_table_argument_refuses(text: str) -> None:
    with pytest.raises(PgstateError) as raised:
        parse_table_argument(text)
    assert raised.value.hint and "double-quote" in raised.value.hint


def test_file_names() -> None:
    assert file_name(QualifiedName("public", "users")) == "users.yaml"
    assert file_name(QualifiedName("public", "User")) == "User.yaml"
    odd = file_name(QualifiedName("My Schema", 'we"ird/../x'))
    assert odd.startswith("My Schema/we_ird_.._x-") and odd.count("/") == 1 and '"' not in odd
    assert file_name(QualifiedName("public", "a.b")) != file_name(QualifiedName("public.a", "b"))


def test_default_schema_ref(tmp_path: Path) -> None:
    """Relative to the repository's schemas/desired.schema.json when the repository has it, else to a copy in
    the output directory: never an absolute path of this machine."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "desired" / "tables").mkdir(parents=True)
    outside = schema_reference(repo / "desired", None)  # the repository has no schema
    assert outside.write and outside.file == (repo / "desired" / "desired.schema.json").resolve()
    assert outside.for_file(repo / "desired" / "tables" / "t.yaml") == "../desired.schema.json"
    (repo / "schemas").mkdir()
    (repo / "schemas" / "desired.schema.json").write_text("{}")
    inside = schema_reference(repo / "desired", None)
    assert not inside.write
    assert inside.for_file(repo / "desired" / "t.yaml") == "../schemas/desired.schema.json"
    assert inside.for_file(repo / "desired" / "tables" / "t.yaml") == "../../schemas/desired.schema.json"
    assert schema_reference(repo / "desired", "https://x/s.json").for_file(repo / "a.yaml") == "https://x/s.json"
