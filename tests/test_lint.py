"""`pgstate lint`'s rules on real PostgreSQL 15 and 18: for each rule a case that fires and one that does not,
silencing through `lint: {ignore: [...]}`, desired objects taking precedence over live ones, and rendering.

Policies, functions and views are made with SQL and read live; desired-side cases canonicalise real desired
documents, exactly as `pgstate lint` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgharness import TestDatabase
from pgstate.catalog.snapshot import read_live
from pgstate.errors import SourceLocation
from pgstate.lint import (
    RULES,
    LintFinding,
    LintInput,
    Severity,
    has_errors,
    read_lint_facts,
    render_json,
    render_text,
    run_lint,
)
from pgstate.lint.registry import rule
from pgstate.model.keys import ObjectKey, table_key
from pgstate.model.names import QualifiedName
from pgstate.model.state import LiveState, ServerFacts
from pgstate.pipeline import State, canonicalize, load_desired, plan_for
from pgstate.planning.compare import compare
from pgstate.planning.plan import Plan
from pgstate.planning.steps import Action, Hazard, Lock, Phase, Step
from pgstate.source.documents import read_specs
from pgstate.source.export import ExportTargets
from pgstate.source.loader import load_documents
from pgstate.source.nodes import Document


def qn(name: str) -> QualifiedName:
    schema, _, table = name.rpartition(".")
    return QualifiedName(schema or "public", table)


def documents(tmp_path: Path, text: str = "") -> list[Document]:
    directory = tmp_path / "desired"
    directory.mkdir(exist_ok=True)
    (directory / "app.yaml").write_text(text)
    return load_documents(directory)


def lint(
    db: TestDatabase,
    docs: list[Document] | None = None,
    *,
    tables: tuple[str, ...] = (),
    functions: tuple[str, ...] = (),
    views: tuple[str, ...] = (),
    desired: bool = False,
    plan: Plan | None = None,
) -> list[LintFinding]:
    """Lint the named live objects (and those the documents declare); with ``desired``, the documents
    canonicalised too (as `pgstate lint` does)."""
    declared = {(doc.kind, doc.data.get("schema", "public"), doc.data.get(str(doc.kind))) for doc in docs or []}
    targets = ExportTargets(
        tuple(name for name in map(qn, tables) if ("table", name.schema, name.name) not in declared),
        tuple(map(qn, functions)),
        tuple(map(qn, views)),
    )
    managed = read_specs([*(docs or []), *targets.documents()], None)
    wanted = read_specs(docs or [], None) if desired else read_specs([], None)
    with db.connect() as conn:
        live = read_live(conn, managed, everything=True)
        state = State(
            wanted, (found := canonicalize(conn, wanted, live, lock_timeout="2s")), live, compare(found, live, managed)
        )
        facts = read_lint_facts(conn, live)
    return run_lint(LintInput(docs or [], state, plan), facts)


def targets(findings: list[LintFinding], rule_id: str) -> set[str]:
    return {finding.target for finding in findings if finding.rule == rule_id}


def only(findings: list[LintFinding], rule_id: str) -> LintFinding:
    [found] = [finding for finding in findings if finding.rule == rule_id]
    return found


# --- policies ----------------------------------------------------------------------------------------------------


def test_rls_auth_initplan(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE t (user_id uuid, tenant text);"
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY per_row ON t TO authenticated USING (user_id = auth.uid());"
        "CREATE POLICY per_row_setting ON t FOR INSERT TO authenticated"
        "  WITH CHECK (tenant = current_setting('app.tenant'));"
        "CREATE POLICY once ON t FOR UPDATE TO authenticated USING (user_id = (SELECT auth.uid()))"
        "  WITH CHECK (tenant = (SELECT current_setting('app.tenant')));"
        # A subquery correlated with the row runs per row, whatever its shape.
        "CREATE POLICY in_exists ON t FOR DELETE TO authenticated"
        "  USING (EXISTS (SELECT 1 WHERE t.user_id = auth.uid()));"
        # Text that looks like a call is not one: the tree decides, not the SQL text.
        "CREATE POLICY looks_like ON t FOR SELECT TO anon USING (tenant = 'auth.uid()');"
    )
    findings = lint(database, tables=("t",))
    assert targets(findings, "rls-auth-initplan") == {
        "per_row on public.t",
        "per_row_setting on public.t",
        "in_exists on public.t",
    }
    messages = {f.target: f.message for f in findings if f.rule == "rls-auth-initplan"}
    assert messages["per_row on public.t"] == "USING calls auth.uid() once per row"
    assert messages["per_row_setting on public.t"] == "WITH CHECK calls current_setting(text) once per row"
    assert all(f.severity is Severity.WARNING for f in findings if f.rule == "rls-auth-initplan")
    assert all("(select auth.uid())" in f.hint for f in findings if f.rule == "rls-auth-initplan")


def test_rls_auth_initplan_without_an_auth_schema(database: TestDatabase) -> None:
    database.execute(
        "DROP SCHEMA auth CASCADE;"
        "CREATE TABLE t (tenant text); ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY p ON t TO authenticated USING (tenant = current_setting('app.tenant'));"
    )
    with database.connect() as conn:
        managed = read_specs(ExportTargets((qn("t"),)).documents(), None)
        facts = read_lint_facts(conn, read_live(conn, managed))
    assert sorted(facts.initplan_functions.values()) == ["current_setting(text)", "current_setting(text,boolean)"]
    assert targets(lint(database, tables=("t",)), "rls-auth-initplan") == {"p on public.t"}


def test_policy_no_role(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE t (a int); ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY everyone ON t FOR SELECT USING (a > 0);"
        "CREATE POLICY signed_in ON t FOR INSERT TO authenticated WITH CHECK (a > 0);"
    )
    assert targets(lint(database, tables=("t",)), "policy-no-role") == {"everyone on public.t"}


def test_multiple_permissive_policies(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE overlapping (a int); ALTER TABLE overlapping ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY reads ON overlapping FOR SELECT TO authenticated USING (a > 0);"
        "CREATE POLICY everything ON overlapping TO authenticated, service_role USING (a < 10);"
        # Not overlapping: a restrictive policy narrows instead of adding a check; other roles; other commands.
        "CREATE TABLE separate (a int); ALTER TABLE separate ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY reads ON separate FOR SELECT TO authenticated USING (a > 0);"
        "CREATE POLICY narrows ON separate AS RESTRICTIVE FOR SELECT TO authenticated USING (a < 10);"
        "CREATE POLICY anon_reads ON separate FOR SELECT TO anon USING (a > 5);"
        "CREATE POLICY writes ON separate FOR INSERT TO authenticated WITH CHECK (a > 0);"
    )
    findings = lint(database, tables=("overlapping", "separate"))
    found = only(findings, "multiple-permissive-policies")
    assert found.target == "public.overlapping"
    assert "everything, reads" in found.message and "authenticated select" in found.message
    assert "service_role" not in found.message  # `everything` alone applies to service_role


def test_policy_exists_rls_disabled(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE off (a int); CREATE POLICY p ON off TO authenticated USING (a > 0);"
        "CREATE TABLE on_ (a int); ALTER TABLE on_ ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY p ON on_ TO authenticated USING (a > 0);"
    )
    findings = lint(database, tables=("off", "on_"))
    assert targets(findings, "policy-exists-rls-disabled") == {"public.off"}
    assert only(findings, "policy-exists-rls-disabled").severity is Severity.ERROR
    assert has_errors(findings)


def test_rls_enabled_no_policy(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE deny_all (a int); ALTER TABLE deny_all ENABLE ROW LEVEL SECURITY;"
        "CREATE TABLE with_policy (a int); ALTER TABLE with_policy ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY p ON with_policy TO authenticated USING (a > 0);"
        "CREATE TABLE no_rls (a int);"
    )
    findings = lint(database, tables=("deny_all", "with_policy", "no_rls"))
    assert targets(findings, "rls-enabled-no-policy") == {"public.deny_all"}


def test_policy_always_true(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE t (a int, status text); ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY members ON t FOR SELECT TO authenticated USING (true);"
        "CREATE POLICY open_insert ON t FOR INSERT TO anon WITH CHECK (true);"
        "CREATE POLICY to_all ON t FOR UPDATE USING (a > 0) WITH CHECK (true);"
        # Neither is the constant: one is an expression, the other has `true` as text.
        "CREATE POLICY compares ON t FOR DELETE TO anon USING (1 = 1);"
        "CREATE POLICY text_true ON t FOR SELECT TO anon USING (status = 'true');"
        "CREATE POLICY is_false ON t FOR SELECT TO anon USING (false);"
    )
    findings = [f for f in lint(database, tables=("t",)) if f.rule == "policy-always-true"]
    by_target = {f.target: f for f in findings}
    assert set(by_target) == {"members on public.t", "open_insert on public.t", "to_all on public.t"}
    assert by_target["members on public.t"].severity is Severity.WARNING
    assert by_target["open_insert on public.t"].severity is Severity.ERROR  # anon
    assert by_target["to_all on public.t"].severity is Severity.ERROR  # public
    assert by_target["to_all on public.t"].message.startswith("WITH CHECK is `true`")


def test_policy_column_unindexed(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE bare (id int, user_id uuid); CREATE TABLE led (id int, user_id uuid, at date, id2 int);"
        "CREATE TABLE second (id int, user_id uuid, at date); CREATE TABLE cast_ (id int, owner varchar(40));"
        "CREATE INDEX ON led (user_id, at); CREATE INDEX ON second (at, user_id); CREATE INDEX ON cast_ (owner);"
        "CREATE POLICY p ON bare TO authenticated USING (user_id = (SELECT auth.uid()));"
        "CREATE POLICY p ON led TO authenticated USING ((SELECT auth.uid()) = user_id);"
        "CREATE POLICY p ON second TO authenticated USING (user_id = (SELECT auth.uid()));"
        "CREATE POLICY p ON cast_ TO authenticated USING (owner = (SELECT auth.role()));"  # varchar under a cast
        # Two columns of the table compared with each other: no index lookup either way.
        "CREATE POLICY q ON led TO authenticated USING (id = id2);"
    )
    findings = lint(database, tables=("bare", "led", "second", "cast_"))
    assert targets(findings, "policy-column-unindexed") == {"p on public.bare", "p on public.second"}
    bare = [f for f in findings if f.target == "p on public.bare"]
    assert "compares column user_id with `=`" in only(bare, "policy-column-unindexed").message


def test_a_declared_index_counts_for_policy_column_unindexed(database: TestDatabase, tmp_path: Path) -> None:
    """An index the desired state declares counts: lint judges the table as it will be after apply."""
    database.execute(
        "CREATE TABLE t (user_id uuid); CREATE POLICY p ON t TO authenticated USING (user_id = (SELECT auth.uid()));"
    )
    docs = documents(tmp_path, "table: t\nindexes:\n  - {name: t_user_id_idx, columns: [user_id]}\n")
    assert targets(lint(database, docs, tables=("t",)), "policy-column-unindexed") == {"p on public.t"}
    assert targets(lint(database, docs, tables=("t",), desired=True), "policy-column-unindexed") == set()


# --- functions and views -----------------------------------------------------------------------------------------


def test_function_search_path_mutable(database: TestDatabase) -> None:
    database.execute(
        "CREATE FUNCTION definer(a int) RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT a';"
        "CREATE FUNCTION invoker(a int) RETURNS int LANGUAGE sql AS 'SELECT a';"
        "CREATE FUNCTION pinned(a int) RETURNS int LANGUAGE sql SECURITY DEFINER"
        "  SET search_path = pg_catalog, public AS 'SELECT a';"
        "CREATE FUNCTION emptied() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'SELECT 1';"
    )
    findings = lint(database, functions=("definer", "invoker", "pinned", "emptied"))
    by_target = {f.target: f for f in findings if f.rule == "function-search-path-mutable"}
    assert set(by_target) == {"public.definer(a integer)", "public.invoker(a integer)"}
    assert by_target["public.definer(a integer)"].severity is Severity.ERROR
    assert by_target["public.invoker(a integer)"].severity is Severity.WARNING


def test_security_definer_view(database: TestDatabase) -> None:
    database.execute("CREATE TABLE t (a int); CREATE VIEW as_owner AS SELECT a FROM t;")
    if database.major >= 15:
        # `on` rather than `true`: the option is read as PostgreSQL reads booleans.
        database.execute("CREATE VIEW as_caller WITH (security_invoker = on) AS SELECT a FROM t;")
    findings = lint(database, views=("as_owner", "as_caller"))
    assert targets(findings, "security-definer-view") == {"public.as_owner"}
    assert "security_invoker = true" in only(findings, "security-definer-view").hint


# --- indexes -----------------------------------------------------------------------------------------------------


def test_duplicate_index(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE twice (a int PRIMARY KEY, b int);"
        "CREATE UNIQUE INDEX twice_a_again ON twice (a);"  # the same as the primary key's index
        "CREATE INDEX twice_a_b ON twice (a, b);"  # a longer index is not a duplicate (prefixes are not reported)
        "CREATE TABLE distinct_ (a int, b int);"
        "CREATE INDEX ON distinct_ (a); CREATE INDEX ON distinct_ (a DESC); CREATE INDEX ON distinct_ (a) WHERE b > 0;"
        "CREATE INDEX ON distinct_ USING hash (a);"
    )
    findings = lint(database, tables=("twice", "distinct_"))
    found = only(findings, "duplicate-index")
    assert found.target == "public.twice"
    assert "twice_a_again, twice_pkey" in found.message


def test_unindexed_foreign_key(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE parent (id int PRIMARY KEY, k int, UNIQUE (id, k));"
        "CREATE TABLE bare (parent_id int REFERENCES parent);"
        "CREATE TABLE late (x int, parent_id int REFERENCES parent); CREATE INDEX ON late (x, parent_id);"
        "CREATE TABLE indexed (parent_id int REFERENCES parent); CREATE INDEX ON indexed (parent_id);"
        # A composite key is covered by an index starting with its columns in another order.
        "CREATE TABLE composite (p int, q int, x int, FOREIGN KEY (p, q) REFERENCES parent (id, k));"
        "CREATE INDEX ON composite (q, p, x);"
    )
    findings = lint(database, tables=("parent", "bare", "late", "indexed", "composite"))
    assert targets(findings, "unindexed-foreign-key") == {
        "bare_parent_id_fkey on public.bare",
        "late_parent_id_fkey on public.late",
    }


def test_invalid_index(database: TestDatabase) -> None:
    database.execute(
        "CREATE TABLE t (a int); INSERT INTO t VALUES (1), (1); CREATE TABLE ok (a int);"
        "CREATE INDEX ok_a_idx ON ok (a);"
    )
    with database.connect() as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_a_key ON t (a)")  # fails, leaving the index INVALID
    findings = lint(database, tables=("t", "ok"))
    assert targets(findings, "invalid-index") == {"public.t_a_key"}
    assert only(findings, "invalid-index").severity is Severity.ERROR


# --- the plan ----------------------------------------------------------------------------------------------------


def plan_and_lint(database: TestDatabase, tmp_path: Path, text: str, tables: tuple[str, ...]) -> list[LintFinding]:
    docs = documents(tmp_path, text)
    with database.connect() as conn:
        state, plan = plan_for(conn, load_desired(tmp_path / "desired"), lock_timeout="2s")
        facts = read_lint_facts(conn, state.live)
    return run_lint(LintInput(docs, state, plan), facts)


def test_column_type_rewrite(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (n int, s varchar(20));")
    findings = plan_and_lint(database, tmp_path, "table: t\ncolumns:\n  n: {type: bigint}\n  s: {type: text}\n", ("t",))
    found = only(findings, "column-type-rewrite")
    assert found.target == "public.t.n"  # varchar -> text is binary-compatible: no rewrite, no finding
    assert found.location is not None and found.location.line == 3  # the column's line


def test_destructive_change(database: TestDatabase, tmp_path: Path) -> None:
    # An index dropped by prune_indexes loses no data: not destructive.
    database.execute("CREATE TABLE t (a int); CREATE INDEX t_a_idx ON t (a);")
    findings = plan_and_lint(database, tmp_path, "table: t\nindexes: []\nprune_indexes: true\n", ("t",))
    assert targets(findings, "destructive-change") == set()

    # Steps that drop a policy, function or view for good, retire a table, or change a type lossily.
    table = qn("t")

    def step(action: Action, subject: ObjectKey, hazards: tuple[Hazard, ...] = ()) -> Step:
        return Step(
            action,
            subject,
            sql.SQL("SELECT 1"),
            Lock.ACCESS_EXCLUSIVE,
            Phase.TRANSACTION,
            "summary",
            table=table,
            hazards=hazards,
        )

    plan = Plan(
        (
            step(Action.DROP_POLICY, table_key("policy", table, "replaced", label="replaced on public.t")),
            step(Action.CREATE_POLICY, table_key("policy", table, "replaced", label="replaced on public.t")),
            step(Action.DROP_POLICY, table_key("policy", table, "gone", label="gone on public.t")),
            step(Action.DROP_FUNCTION, ObjectKey("function", ("public", "f", "integer"), "public.f(integer)")),
            step(Action.RETIRE_TABLE, table_key("table", qn("old"), label="public.old")),
            step(Action.ALTER_COLUMN_TYPE, table_key("column", table, "a"), (Hazard.DATA_LOSS,)),
        ),
        LiveState(ServerFacts(180000, "", "", "", False), {}, {}),
        180000,
    )
    found = lint(database, documents(tmp_path, "table: t\n"), tables=("t",), plan=plan)
    assert targets(found, "destructive-change") == {"gone on public.t", "public.f(integer)", "public.old", "public.t.a"}
    assert all(f.severity is Severity.ERROR for f in found if f.rule == "destructive-change")


# --- silencing, precedence, locations ---------------------------------------------------------------------------

TWO_TABLES = """\
table: quiet
lint:
  ignore: [policy-no-role]
---
table: loud
policies:
  - name: everyone
"""


def test_a_document_silences_rules_for_what_it_declares(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "CREATE TABLE quiet (a int); CREATE TABLE loud (a int); CREATE TABLE undeclared (a int);"
        "CREATE POLICY everyone ON quiet USING (a > 0); CREATE POLICY everyone ON loud USING (a > 0);"
        "CREATE POLICY everyone ON undeclared USING (a > 0);"
    )
    docs = documents(tmp_path, TWO_TABLES)
    findings = lint(database, docs, tables=("quiet", "loud", "undeclared"))
    assert targets(findings, "policy-no-role") == {"everyone on public.loud", "everyone on public.undeclared"}
    by_target = {f.target: f for f in findings if f.rule == "policy-no-role"}
    loud = by_target["everyone on public.loud"].location
    assert loud is not None and loud.file == docs[1].file and loud.line == 7  # the policy's list item
    assert by_target["everyone on public.undeclared"].location is None  # no document: cannot be silenced
    # The silenced document's other findings remain: only the listed rule is dropped.
    assert "public.quiet" in targets(findings, "policy-exists-rls-disabled")
    # Sorted by location, unlocated last.
    assert findings[-1].location is None and findings[0].location is not None


def test_desired_policies_and_flags_take_precedence_over_live_ones(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "CREATE TABLE model (a int); CREATE POLICY everyone ON model USING (a > 0);"
        "CREATE TABLE t (a int); ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
    )
    docs = documents(tmp_path, "table: t\nrls: {enabled: false}\npolicies:\n  - name: everyone\n")
    where = SourceLocation(docs[0].file, 4, 5)
    live_only = lint(database, docs, tables=("t",))
    assert targets(live_only, "rls-enabled-no-policy") == {"public.t"}
    findings = lint(database, docs, tables=("t",), desired=True)
    assert targets(findings, "rls-enabled-no-policy") == set()  # the desired policy counts, not the live none
    assert targets(findings, "policy-exists-rls-disabled") == {"public.t"}  # the desired flag counts
    assert only(findings, "policy-no-role").location == where


def test_without_a_database_rules_needing_the_catalog_report_nothing(tmp_path: Path) -> None:
    assert run_lint(LintInput(documents(tmp_path, "table: t\n"), None, None), None) == []


# --- registry and rendering --------------------------------------------------------------------------------------


def test_every_rule_is_registered_once_with_a_description() -> None:
    assert set(RULES) == {
        "rls-auth-initplan",
        "policy-no-role",
        "multiple-permissive-policies",
        "policy-exists-rls-disabled",
        "rls-enabled-no-policy",
        "policy-always-true",
        "policy-column-unindexed",
        "function-search-path-mutable",
        "security-definer-view",
        "duplicate-index",
        "unindexed-foreign-key",
        "invalid-index",
        "column-type-rewrite",
        "destructive-change",
        "authz-change",
    }
    assert all(r.description and r.id == rule_id for rule_id, r in RULES.items())
    with pytest.raises(RuntimeError, match="registered twice"):
        rule("policy-no-role", Severity.WARNING, "again")(lambda ctx: [])


FINDINGS = [
    LintFinding(
        "invalid-index",
        Severity.ERROR,
        "public.t_a_key",
        "is INVALID",
        "drop it",
        SourceLocation("desired/t.yaml", 3, 5),
    ),
    LintFinding("policy-no-role", Severity.WARNING, "p on public.u", "applies to every role", "name the roles", None),
]


def test_render_text() -> None:
    assert render_text(FINDINGS) == (
        "desired/t.yaml:3:5: error: [invalid-index] public.t_a_key: is INVALID\n"
        "  hint: drop it\n"
        "warning: [policy-no-role] p on public.u: applies to every role\n"
        "  hint: name the roles\n"
        "1 error, 1 warning\n"
    )
    assert render_text([]) == "0 errors, 0 warnings\n"


def test_render_json() -> None:
    document = json.loads(render_json(FINDINGS))
    assert document["summary"] == {"errors": 1, "warnings": 1, "text": "1 error, 1 warning"}
    assert document["findings"][0] == {
        "rule": "invalid-index",
        "severity": "error",
        "target": "public.t_a_key",
        "message": "is INVALID",
        "hint": "drop it",
        "location": {"file": "desired/t.yaml", "line": 3, "column": 5},
    }
    assert document["findings"][1]["location"] is None
    assert render_json(FINDINGS) == render_json(list(FINDINGS))  # stable
