"""`export` for adopting pgstate on a live database: file names from the table names, `--all`, a modeline that
works on every clone, one line per file written, and policies that round-trip (export, then plan: no steps)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from pgharness import TestDatabase, run_pgstate_inprocess
from pgstate.source.export_files import FileNamer, folded, packaged_schema

# A Prisma-on-Supabase application, as adopting teams have it: PascalCase tables, policies calling auth.uid()
# on quoted columns, a string literal with both kinds of quotes, USING and WITH CHECK; a second schema with a
# name that needs quoting; and what --all must leave alone: Supabase's own schema, the migration tool's table,
# partitions, a table an extension owns.
APP = r'''
CREATE TABLE public."User" (
    id uuid PRIMARY KEY,
    "isPremium" boolean NOT NULL DEFAULT false,
    credits integer NOT NULL DEFAULT 0,
    "displayName" text
);
CREATE INDEX "User_isPremium_credits_idx" ON public."User" ("isPremium", credits);
ALTER TABLE public."User" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users can view own rows" ON public."User" FOR SELECT TO authenticated
    USING (id = (select auth.uid()));
CREATE POLICY "Users update own, not 'admin' ""names""" ON public."User" AS PERMISSIVE FOR UPDATE
    TO authenticated
    USING (id = auth.uid())
    WITH CHECK (id = auth.uid() AND "displayName" IS DISTINCT FROM 'it''s "admin"' AND credits >= 0);

CREATE TABLE public."InterviewSession" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "userId" uuid NOT NULL REFERENCES public."User" (id),
    "createdAt" timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX "InterviewSession_userId_idx" ON public."InterviewSession" ("userId");
ALTER TABLE public."InterviewSession" ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY "own sessions" ON public."InterviewSession" TO authenticated
    USING ("userId" = (select auth.uid())) WITH CHECK ("userId" = (select auth.uid()));

CREATE SCHEMA "Billing";
CREATE TABLE "Billing"."Invoice" (id bigint PRIMARY KEY, "userId" uuid, amount numeric(10, 2));
CREATE INDEX "Invoice_userId_idx" ON "Billing"."Invoice" ("userId") WHERE amount > 0;

CREATE TABLE public.events (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX events_at_idx ON public.events (at);

CREATE TABLE public._prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL);
CREATE SCHEMA storage;
CREATE TABLE storage.objects (id uuid PRIMARY KEY, name text);
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE public.owned_by_extension (id int);
ALTER EXTENSION pg_trgm ADD TABLE public.owned_by_extension;
'''
WROTE = re.compile(r"^wrote (?P<path>.+?) \((?P<what>.*)\)$")


def _export(database: TestDatabase, out: Path, *args: str) -> tuple[int, list[tuple[str, str]], str, str]:
    """Run `export`: (exit code, the (path, summary) of each `wrote` line, the last line, stderr)."""
    run = run_pgstate_inprocess(["export", "--out", str(out), "--database-url", database.url, *args])
    lines = run.stdout.splitlines()
    wrote = [(m["path"], m["what"]) for m in map(WROTE.match, lines) if m]
    return run.exit_code, wrote, lines[-1] if lines else "", run.stderr


def _plans_nothing(database: TestDatabase, desired: Path) -> None:
    """The round-trip law: validate passes, plan has no steps, drift finds nothing."""
    common = ["--desired", str(desired), "--database-url", database.url]
    validate = run_pgstate_inprocess(["validate", "--desired", str(desired)])
    assert validate.exit_code == 0, validate.stdout + validate.stderr
    plan = run_pgstate_inprocess(["plan", *common])
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    drift = run_pgstate_inprocess(["drift", *common, "--format", "json"])
    assert drift.exit_code == 0 and json.loads(drift.stdout)["findings"] == [], drift.stdout + drift.stderr


def test_all_tables_named_after_themselves_round_trip(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(APP)
    out = tmp_path / "desired"
    code, wrote, last, stderr = _export(database, out, "--all")
    assert code == 0, stderr

    files = sorted(str(path.relative_to(out)) for path in out.rglob("*.yaml"))
    assert files == ["Billing/Invoice.yaml", "InterviewSession.yaml", "User.yaml", "events.yaml"]
    assert [path for path, _ in wrote] == [
        str(out / "desired.schema.json"),
        str(out / "Billing" / "Invoice.yaml"),
        str(out / "InterviewSession.yaml"),
        str(out / "User.yaml"),
        str(out / "events.yaml"),
    ]
    summaries = dict(wrote)
    assert summaries[str(out / "User.yaml")] == 'table public."User": 4 columns, 1 index, 2 policies, RLS on'
    assert summaries[str(out / "InterviewSession.yaml")].endswith("1 index, 1 policy, RLS forced")
    assert last == f"exported 4 tables into {out} (4 files)"
    # What --all left alone, and why; Supabase's schema and the extension's table are not even mentioned.
    assert "2 partitions" in stderr and "public._prisma_migrations" in stderr
    assert "storage" not in stderr and "owned_by_extension" not in stderr

    user = yaml.safe_load((out / "User.yaml").read_text())
    assert (user["table"], user["schema"]) == ("User", "public")
    invoice = yaml.safe_load((out / "Billing" / "Invoice.yaml").read_text())
    assert (invoice["table"], invoice["schema"]) == ("Invoice", "Billing")
    _plans_nothing(database, out)  # the nested folder is read too


def test_policies_round_trip_through_the_database(database: TestDatabase, tmp_path: Path) -> None:
    """The exported policy texts are the policies: dropped and re-created from the export, the server holds the
    same expressions as before; and the export is not vacuous (a changed policy is a step)."""
    database.execute(APP)
    before = database.query("SELECT policyname, cmd, roles::text, qual, with_check FROM pg_policies ORDER BY 1")
    out = tmp_path / "desired"
    assert _export(database, out, "User", "InterviewSession")[0] == 0
    _plans_nothing(database, out)
    policies = yaml.safe_load((out / "User.yaml").read_text())["policies"]
    assert {policy["name"] for policy in policies} == {
        "Users can view own rows",
        "Users update own, not 'admin' \"names\"",
    }

    database.execute(
        'DROP POLICY "Users can view own rows" ON public."User"; DROP POLICY "own sessions" ON "InterviewSession"'
    )
    common = ["--desired", str(out), "--database-url", database.url]
    applied = run_pgstate_inprocess(
        ["apply", *common, "--yes", "--allow-authz-widening", "--backup-dir", str(tmp_path / "b")]
    )
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    after = database.query("SELECT policyname, cmd, roles::text, qual, with_check FROM pg_policies ORDER BY 1")
    assert after == before

    database.execute('ALTER POLICY "Users can view own rows" ON public."User" USING (id = auth.uid() OR "isPremium")')
    plan = run_pgstate_inprocess(["plan", *common])
    assert plan.exit_code == 2 and "Users can view own rows" in plan.stdout, plan.stdout + plan.stderr


def test_modeline_points_to_a_copy_of_the_schema_outside_a_repository(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(APP)
    out = tmp_path / "desired"
    assert _export(database, out, "User", "Billing.Invoice")[0] == 0
    assert (out / "desired.schema.json").read_bytes() == packaged_schema()
    top = (out / "User.yaml").read_text().splitlines()[0]
    nested = (out / "Billing" / "Invoice.yaml").read_text().splitlines()[0]
    assert top == "# yaml-language-server: $schema=desired.schema.json"
    assert nested == "# yaml-language-server: $schema=../desired.schema.json"
    for path in out.rglob("*.yaml"):
        assert str(tmp_path) not in path.read_text()  # no path of this machine


def test_modeline_points_to_the_repository_schema(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(APP)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "schemas").mkdir()
    (repo / "schemas" / "desired.schema.json").write_bytes(packaged_schema())
    out = repo / "db" / "desired"
    code, wrote, _, stderr = _export(database, out, "User", "Billing.Invoice")
    assert code == 0, stderr
    assert not (out / "desired.schema.json").exists() and len(wrote) == 2
    assert (
        (out / "User.yaml")
        .read_text()
        .startswith("# yaml-language-server: $schema=../../schemas/desired.schema.json\n")
    )
    nested = (out / "Billing" / "Invoice.yaml").read_text()
    assert nested.startswith("# yaml-language-server: $schema=../../../schemas/desired.schema.json\n")

    explicit = tmp_path / "explicit"
    assert _export(database, explicit, "User", "--schema-ref", "https://example.org/desired.schema.json")[0] == 0
    assert (
        (explicit / "User.yaml")
        .read_text()
        .startswith("# yaml-language-server: $schema=https://example.org/desired.schema.json\n")
    )
    assert not (explicit / "desired.schema.json").exists()


def test_names_differing_only_in_case_get_digests(database: TestDatabase, tmp_path: Path) -> None:
    """`User` and `user` would be one file on macOS and Windows: both get a digest, also when only one of them
    is exported (the other exists), so that a later export of the other never lands on the same file."""
    database.execute('CREATE TABLE "User" (id int); CREATE TABLE "user" (id int); CREATE TABLE "Plain" (id int)')
    only = tmp_path / "only"
    code, wrote, _, _ = _export(database, only, "user")
    assert code == 0 and len(wrote) == 2
    (lower,) = [path.name for path in only.glob("*.yaml")]
    assert re.fullmatch(r"user-[0-9a-f]{8}\.yaml", lower)

    both = tmp_path / "both"
    assert _export(database, both, "--all")[0] == 0
    names = sorted(path.name for path in both.glob("*.yaml"))
    assert len(names) == 3 and "Plain.yaml" in names and lower in names
    assert len({folded(name) for name in names}) == 3
    _plans_nothing(database, both)


def test_an_earlier_export_of_the_same_table_is_named(database: TestDatabase, tmp_path: Path) -> None:
    """Files of the old naming scheme (public.user-3f2a9c1b.yaml) declaring the same table are pointed out: two
    declarations of one table would make validate fail."""
    database.execute(APP)
    out = tmp_path / "desired"
    out.mkdir()
    (out / "public.user-3f2a9c1b.yaml").write_text("table: User\nschema: public\n")
    code, _, _, stderr = _export(database, out, "User")
    assert code == 0
    assert 'public.user-3f2a9c1b.yaml also declares table public."User"' in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schema", "storage"], "--schema goes with --all"),
        ([], "nothing to export"),
    ],
)
def test_refused_before_connecting(tmp_path: Path, args: list[str], message: str) -> None:
    run = run_pgstate_inprocess(
        ["export", "--out", str(tmp_path), "--database-url", "postgresql://127.0.0.1:1/x", *args]
    )
    assert run.exit_code == 1 and message in run.stderr, run.stderr


def test_all_with_schema(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(APP)
    code, wrote, _, stderr = _export(database, tmp_path / "s", "--all", "--schema", "storage", "--schema", "Billing")
    assert code == 0, stderr
    assert sorted(Path(path).relative_to(tmp_path / "s").as_posix() for path, _ in wrote[1:]) == [
        "Billing/Invoice.yaml",
        "storage/objects.yaml",
    ]
    code, _, _, stderr = _export(database, tmp_path / "n", "--all", "--schema", "nope")
    assert code == 1 and "schema(s) not found: nope" in stderr
    assert not (tmp_path / "n").exists()


def test_file_namer() -> None:
    siblings = [
        ("table", "public", "User"),
        ("table", "public", "Post"),
        ("table", "public", "post"),
        ("table", "public", "caf\u00e9"),
        ("table", "public", "cafe\u0301"),
        ("schema", "", "App"),
        ("schema", "", "app"),
        ("schema", "", "Billing"),
    ]
    namer = FileNamer("public", siblings)

    def path(kind: str, name: str, schema: str = "public") -> str:
        return namer.path({kind: name, "schema": schema}).as_posix()

    assert path("table", "User") == "User.yaml"
    assert path("table", "Invoice", "Billing") == "Billing/Invoice.yaml"
    assert path("function", "can_access", "Billing") == "Billing/function.can_access.yaml"
    assert path("view", "performance_metrics") == "view.performance_metrics.yaml"
    assert namer.path({"role": "authenticated"}).as_posix() == "role.authenticated.yaml"
    assert namer.path({"database": {}}).as_posix() == "database.yaml"
    # Case and Unicode normalisation: every member of the group gets its own digest.
    post, lower_post = path("table", "Post"), path("table", "post")
    assert re.fullmatch(r"Post-[0-9a-f]{8}\.yaml", post) and re.fullmatch(r"post-[0-9a-f]{8}\.yaml", lower_post)
    assert post[-13:] != lower_post[-13:]
    assert path("table", "caf\u00e9") != path("table", "cafe\u0301") and "-" in path("table", "caf\u00e9")
    assert re.fullmatch(r"App-[0-9a-f]{8}/T\.yaml", path("table", "T", "App"))
    # Not portable as a file name, or looking like another file export writes: slug and digest.
    for name, slug in [
        ("a/b", "a_b"),
        ("..", "__"),
        (".hidden", "_hidden"),
        ("ends.", "ends_"),
        ("a:b*c?", "a_b_c_"),
        ("CON", "CON"),
        ("nul.txt", "nul.txt"),
        ("database", "database"),
        ("view.x", "view.x"),
        ('we"ird\\x', "we_ird_x"),
    ]:
        assert re.fullmatch(re.escape(slug) + r"-[0-9a-f]{8}\.yaml", path("table", name)), name
    assert re.fullmatch(r"x\.yaml-[0-9a-f]{8}/T\.yaml", path("table", "T", "x.yaml"))
    assert path("table", "Upper Case") == "Upper Case.yaml" and path("table", "a.b") == "a.b.yaml"
    assert path("function", "database") == "function.database.yaml"  # only a table's name can look like it
