"""Row-level security, policies, helper functions and views, on plain PostgreSQL with Supabase emulated."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from pgharness import TestDatabase, run_pgstate_inprocess
from pgharness import pgstate_json as pgstate
from pgharness import plan_steps as steps
from pgharness import write_desired as desired

TABLE = """
CREATE TABLE docs (id serial PRIMARY KEY, "ownerId" uuid NOT NULL, status varchar(20), kind text, body json);
INSERT INTO docs ("ownerId", status, kind, body)
SELECT ('00000000-0000-0000-0000-00000000000' || (g % 3))::uuid, CASE WHEN g % 2 = 0 THEN 'open' ELSE 'closed' END,
       CASE WHEN g % 3 = 0 THEN 'a' ELSE 'c' END, '{}'
FROM generate_series(1, 30) g;
GRANT SELECT, INSERT, UPDATE ON docs TO authenticated;
"""

POLICIES = """
table: docs
rls: {enabled: true}
policies:
  - name: Owners read their docs
    command: select
    roles: [authenticated]
    using: '(("ownerId" = (select auth.uid())))'
  - name: Open docs are public
    command: select
    roles: [anon, authenticated]
    using: status IN ('open', 'draft')
  - name: Kinds a and b are shared
    command: select
    roles: [authenticated]
    using: kind IN ('a', 'b')
"""


def policy_state(db: TestDatabase) -> list[tuple[Any, ...]]:
    return db.query(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.polname, p.polcmd, p.polpermissive,"
        " p.polroles::regrole[]::text, pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)"
        " FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid WHERE c.relname = 'docs' ORDER BY 4"
    )


def test_policies_round_trip_with_equivalent_spellings(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    directory = desired(tmp_path, POLICIES)
    code, plan, err = pgstate(database, directory, "plan")
    assert code == 2, err
    # RLS is enabled before the policies are created (fail closed: in between, the table denies). The table was
    # open to everyone before, so none of it widens access.
    assert steps(plan) == [
        "enable-rls public.docs",
        'create-policy public.docs."Kinds a and b are shared"',
        'create-policy public.docs."Open docs are public"',
        'create-policy public.docs."Owners read their docs"',
    ]
    assert [s["hazards"] for s in plan["steps"]] == [["access-exclusive-lock"]] * 4
    assert all(s["lock"] == "ACCESS EXCLUSIVE" and s["transactional"] for s in plan["steps"])
    code, _, err = pgstate(database, directory, "apply", "--yes")
    assert code == 0, err
    code, plan, err = pgstate(database, directory, "plan")
    assert (code, plan["steps"]) == (0, []), err
    # The same policies written as the server prints them, and in other equivalent spellings, plan nothing.
    printed = POLICIES.replace(
        "'((\"ownerId\" = (select auth.uid())))'", "'(\"ownerId\" = ( SELECT auth.uid() AS uid))'"
    ).replace("kind IN ('a', 'b')", "kind = ANY (ARRAY['a', 'b'])")
    assert printed != POLICIES
    code, plan, err = pgstate(database, desired(tmp_path, printed), "plan")
    assert (code, plan["steps"]) == (0, []), err
    code, drift, _ = pgstate(database, directory, "drift")
    assert (code, drift["findings"]) == (0, [])


def test_changed_policy_is_altered_or_recreated(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    assert pgstate(database, desired(tmp_path, POLICIES), "apply", "--yes")[0] == 0
    changed = POLICIES.replace("roles: [anon, authenticated]", "roles: [authenticated]").replace(
        "command: select\n    roles: [authenticated]\n    using: '((",
        "command: all\n    roles: [authenticated]\n    using: '((",
    )
    code, plan, err = pgstate(database, desired(tmp_path, changed), "plan")
    assert code == 2, err
    # A changed command cannot be altered: dropped and created; changed roles are altered in place.
    assert steps(plan) == [
        'drop-policy public.docs."Owners read their docs"',
        'create-policy public.docs."Owners read their docs"',
        'alter-policy public.docs."Open docs are public"',
    ]
    # SELECT -> ALL widens; dropping anon narrows.
    assert [s["hazards"] for s in plan["steps"]] == [
        ["access-exclusive-lock"],
        ["access-exclusive-lock", "authz-widening"],
        ["access-exclusive-lock"],
    ]
    assert pgstate(database, desired(tmp_path, changed), "apply", "--yes", "--allow-authz-widening")[0] == 0
    assert pgstate(database, desired(tmp_path, changed), "plan")[0] == 0


def test_type_change_under_a_policy(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    assert pgstate(database, desired(tmp_path, POLICIES), "apply", "--yes")[0] == 0
    with_type = POLICIES.replace("rls: {enabled: true}", "rls: {enabled: true}\ncolumns:\n  status: {type: text}")
    code, plan, err = pgstate(database, desired(tmp_path, with_type), "plan")
    assert code == 2, err
    # PostgreSQL refuses to change the type of a column a policy uses: the policy is dropped and re-created.
    assert steps(plan) == [
        'drop-policy public.docs."Open docs are public"',
        "alter-column-type public.docs.status",
        'create-policy public.docs."Open docs are public"',
    ]
    # Under the new type the server prints the IN list otherwise (no varchar casts): a changed expression, which
    # pgstate does not prove the same (authz-changed).
    assert plan["steps"][2]["hazards"] == ["access-exclusive-lock", "authz-changed"]
    code, _, err = pgstate(database, desired(tmp_path, with_type), "apply", "--yes", "--allow-authz-widening")
    assert code == 0, err
    assert pgstate(database, desired(tmp_path, with_type), "plan")[0] == 0


def test_type_change_under_an_undeclared_policy_keeps_it(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY legacy ON docs FOR SELECT USING (status = 'open');"
    )
    before = [row for row in policy_state(database)]
    directory = desired(tmp_path, "table: docs\ncolumns:\n  status: {type: varchar(40)}\n")
    code, _, err = pgstate(database, directory, "apply", "--yes")
    assert code == 0, err
    after = policy_state(database)
    assert [row[:7] for row in after] == [row[:7] for row in before]  # same policy, same roles and command


def test_failure_in_the_transaction_leaves_rls_and_policies_as_before(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY legacy ON docs FOR SELECT USING (status = 'open');"
    )
    before = policy_state(database)
    # The policies change, RLS is forced, and then a type change fails on the data: everything rolls back.
    failing = POLICIES.replace(
        "rls: {enabled: true}", "rls: {enabled: true, forced: true}\ncolumns:\n  status: {type: integer}"
    )
    code, _, err = pgstate(
        database,
        desired(tmp_path, failing),
        "apply",
        "--yes",
        "--allow-destructive",
        "--backup-dir",
        str(tmp_path / "backups"),
    )
    assert code == 1
    assert "invalid input syntax for type integer" in err
    assert policy_state(database) == before


def test_the_rewrite_of_the_slow_policy_returns_the_same_rows(database: TestDatabase, tmp_path: Path) -> None:
    """The point of the feature: the seed guide's slow policy and its rewrite see the same rows."""
    database.execute("""
        CREATE TABLE "User" (id uuid PRIMARY KEY, email text, role text, "isPremium" boolean);
        CREATE TABLE interviews (id serial PRIMARY KEY, user_id uuid, created_at timestamptz DEFAULT now());
        INSERT INTO "User" SELECT ('00000000-0000-0000-0000-0000000000' || lpad(g::text, 2, '0'))::uuid,
               'u' || g || '@x', CASE WHEN g % 4 = 0 THEN 'ADMIN' ELSE 'USER' END, g % 2 = 0
        FROM generate_series(1, 20) g;
        INSERT INTO interviews (user_id) SELECT id FROM "User", generate_series(1, 3);
        CREATE FUNCTION current_user_email() RETURNS text LANGUAGE sql STABLE
            AS $$ SELECT current_setting('request.jwt.claim.email', true) $$;
        GRANT SELECT ON "User", interviews TO authenticated;
    """)
    slow = """
table: interviews
rls: {enabled: true}
policies:
  - name: Users can view own interviews
    command: select
    roles: [authenticated]
    using: >-
      user_id IN (SELECT id FROM "User"
                  WHERE email = current_user_email() AND role = 'USER' AND "isPremium" = true)
"""
    fast_function = """
function: can_access_interview
arguments: interview_user_id uuid
returns: boolean
language: plpgsql
volatility: stable
security: definer
search_path: [pg_catalog, public]
body: |
  BEGIN
    RETURN EXISTS (SELECT 1 FROM public."User" u WHERE u.id = interview_user_id
                   AND u.email = current_setting('request.jwt.claim.email', true)
                   AND u.role = 'USER' AND u."isPremium");
  END;
"""
    fast = slow[: slow.index("    using:")] + "    using: (select can_access_interview(user_id))\n"

    def visible_rows(user: int) -> list[tuple[Any, ...]]:
        with database.connect(autocommit=False) as conn:
            conn.execute("SET LOCAL ROLE authenticated")
            conn.execute("SELECT set_config('request.jwt.claim.sub', %s, true)", [str(uuid.UUID(int=user))])
            conn.execute("SELECT set_config('request.jwt.claim.email', %s, true)", [f"u{user}@x"])
            return conn.execute("SELECT id FROM interviews ORDER BY id").fetchall()

    assert pgstate(database, desired(tmp_path, slow), "apply", "--yes")[0] == 0
    seen_slow = {user: visible_rows(user) for user in range(1, 21)}
    # A new USING: authz-changed (pgstate does not prove two expressions equivalent; the test does, below).
    code, _, err = pgstate(database, desired(tmp_path, fast, fast_function), "apply", "--yes", "--allow-authz-widening")
    assert code == 0, err
    seen_fast = {user: visible_rows(user) for user in range(1, 21)}
    assert seen_fast == seen_slow
    # Premium (even) users with role USER (not a multiple of 4): 2, 6, 10, 14 and 18, three interviews each.
    assert sum(len(rows) for rows in seen_fast.values()) == 5 * 3


def test_functions_and_views(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    function = """
function: open_docs
returns: bigint
language: sql
volatility: stable
body: SELECT count(*) FROM public.docs WHERE status = 'open'
"""
    view = "view: doc_stats\nquery: SELECT status, count(*) AS n FROM docs GROUP BY status\n"
    directory = desired(tmp_path, function, view)
    code, plan, err = pgstate(database, directory, "plan")
    assert code == 2, err
    assert steps(plan) == ["create-function public.open_docs()", "create-view public.doc_stats"]
    assert pgstate(database, directory, "apply", "--yes")[0] == 0
    assert pgstate(database, directory, "plan")[0] == 0
    assert database.query("SELECT open_docs()") == [(15,)]
    # Same columns plus one at the end: replaced in place; a changed body: replaced; a new result type: recreated.
    wider = view.replace("count(*) AS n", "count(*) AS n, max(id) AS last_id")
    body = function.replace("'open'", "'closed'")
    code, plan, err = pgstate(database, desired(tmp_path, body, wider), "plan")
    assert steps(plan) == ["replace-function public.open_docs()", "replace-view public.doc_stats"], err
    assert pgstate(database, desired(tmp_path, body, wider), "apply", "--yes")[0] == 0
    narrower = view.replace("count(*) AS n", "count(*)::int AS n")
    result = body.replace("returns: bigint", "returns: integer").replace("count(*)", "count(*)::int")
    code, plan, err = pgstate(database, desired(tmp_path, result, narrower), "plan")
    assert steps(plan) == [
        "drop-view public.doc_stats",
        "drop-function public.open_docs()",
        "create-function public.open_docs()",
        "create-view public.doc_stats",
    ], err
    code, _, err = pgstate(database, desired(tmp_path, result, narrower), "apply", "--yes")
    assert code == 0, err
    assert pgstate(database, desired(tmp_path, result, narrower), "drift")[0] == 0


def test_signature_change_recreates_the_policies_that_call_it(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    function = """
function: owns
arguments: owner uuid
returns: boolean
language: sql
volatility: stable
body: SELECT owner = auth.uid()
"""
    policy = """
table: docs
rls: {enabled: true}
policies:
  - name: own
    roles: [authenticated]
    using: (select owns("ownerId"))
"""
    assert pgstate(database, desired(tmp_path, function, policy), "apply", "--yes")[0] == 0
    assert pgstate(database, desired(tmp_path, function, policy), "plan")[0] == 0
    renamed = function.replace("arguments: owner uuid", "arguments: doc_owner uuid").replace(
        "SELECT owner =", "SELECT doc_owner ="
    )
    code, plan, err = pgstate(database, desired(tmp_path, renamed, policy), "plan")
    assert code == 2, err
    assert steps(plan) == [
        "drop-policy public.docs.own",
        "drop-function public.owns(uuid)",
        "create-function public.owns(uuid)",
        "create-policy public.docs.own",
    ]
    code, _, err = pgstate(database, desired(tmp_path, renamed, policy), "apply", "--yes")
    assert code == 0, err


@pytest.mark.parametrize(
    "policy",
    [
        "  - {name: p, using: 'true) WITH CHECK (true'}\n",
        '  - {name: p, using: "true); DROP TABLE docs; --"}\n',
        "  - {name: p, roles: [no_such_role], using: 'true'}\n",
    ],
)
def test_bad_policies_are_refused_before_any_change(database: TestDatabase, tmp_path: Path, policy: str) -> None:
    database.execute(TABLE)
    before = policy_state(database)
    code, _, err = pgstate(database, desired(tmp_path, "table: docs\npolicies:\n" + policy), "apply", "--yes")
    assert code == 1
    assert "d0.yaml:3" in err
    assert policy_state(database) == before


def test_lint_through_the_command_line(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    slow = POLICIES.replace("'((\"ownerId\" = (select auth.uid())))'", "'\"ownerId\" = auth.uid()'")
    code, report, err = pgstate(database, desired(tmp_path, slow), "lint")
    assert code == 0, err  # warnings only
    rules = {finding["rule"] for finding in report["findings"]}
    assert "rls-auth-initplan" in rules
    assert report["summary"]["errors"] == 0
    # Policies with RLS off do nothing: an error, and exit 1 ...
    off = slow.replace("rls: {enabled: true}", "rls: {enabled: false}")
    code, report, _ = pgstate(database, desired(tmp_path, off), "lint")
    assert code == 1
    assert "policy-exists-rls-disabled" in {finding["rule"] for finding in report["findings"]}
    # ... unless the document silences the rule.
    silenced = off + "lint:\n  ignore: [policy-exists-rls-disabled]\n"
    code, report, _ = pgstate(database, desired(tmp_path, silenced), "lint")
    assert code == 0
    assert "policy-exists-rls-disabled" not in {finding["rule"] for finding in report["findings"]}
    # Without a database, only the desired files are linted.
    run = run_pgstate_inprocess(["lint", "--desired", str(desired(tmp_path, off))])
    assert run.exit_code == 0
    assert "no database configured" in run.stderr


def test_recreated_function_keeps_owner_and_privileges(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "CREATE FUNCTION s(n int) RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog"
        " AS 'SELECT n';"
        "REVOKE EXECUTE ON FUNCTION s(int) FROM PUBLIC; GRANT EXECUTE ON FUNCTION s(int) TO authenticated;"
    )
    function = (
        "function: s\narguments: n int\nreturns: bigint\nlanguage: sql\nsecurity: definer\n"
        "search_path: [pg_catalog]\nbody: SELECT n::bigint\n"
    )
    _code, plan, err = pgstate(database, desired(tmp_path, function), "plan")
    assert steps(plan) == ["drop-function public.s(integer)", "create-function public.s(integer)"], err
    assert pgstate(database, desired(tmp_path, function), "apply", "--yes")[0] == 0
    assert database.query(
        "SELECT has_function_privilege('anon', 's(int)', 'EXECUTE'),"
        " has_function_privilege('authenticated', 's(int)', 'EXECUTE')"
    ) == [(False, True)]


def test_view_keeps_its_options_and_privileges(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        TABLE + "CREATE VIEW v WITH (security_invoker = true) AS SELECT id, status FROM docs;GRANT SELECT ON v TO anon;"
    )
    wider = "view: v\nquery: SELECT id, status, kind FROM docs\nsecurity_invoker: true\n"
    _, plan, err = pgstate(database, desired(tmp_path, wider), "plan")
    assert steps(plan) == ["replace-view public.v"], err
    assert pgstate(database, desired(tmp_path, wider), "apply", "--yes")[0] == 0
    assert database.query("SELECT reloptions FROM pg_class WHERE relname = 'v'") == [(["security_invoker=true"],)]
    renamed = "view: v\nquery: SELECT id AS doc_id, status FROM docs\nsecurity_invoker: true\n"
    _code, plan, err = pgstate(database, desired(tmp_path, renamed), "plan")
    assert steps(plan) == ["drop-view public.v", "create-view public.v"], err
    assert pgstate(database, desired(tmp_path, renamed), "apply", "--yes")[0] == 0
    assert database.query("SELECT reloptions FROM pg_class WHERE relname = 'v'") == [(["security_invoker=true"],)]
    assert database.query("SELECT has_table_privilege('anon', 'v', 'SELECT')") == [(True,)]
    # The options are part of the definition: one the document leaves out is a change the plan shows.
    plain = "view: v\nquery: SELECT id AS doc_id, status FROM docs\n"
    _code, plan, err = pgstate(database, desired(tmp_path, plain), "plan")
    assert steps(plan) == ["replace-view public.v"], err
    _code, report, err = pgstate(database, desired(tmp_path, plain), "drift")
    assert [f["field"] for f in report["findings"][0]["fields"]] == ["security_invoker"], err


def test_policy_naming_its_own_table_with_the_schema_converges(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    policy = (
        "table: docs\nrls: {enabled: true}\npolicies:\n  - name: siblings\n    roles: [authenticated]\n"
        '    using: EXISTS (SELECT 1 FROM public.docs d WHERE d."ownerId" = docs."ownerId")\n'
    )
    code, _, err = pgstate(database, desired(tmp_path, policy), "apply", "--yes")
    assert code == 0, err
    assert pgstate(database, desired(tmp_path, policy), "plan")[0] == 0


def test_removing_a_parameter_default_recreates_the_function(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE FUNCTION f(n int DEFAULT 1) RETURNS int LANGUAGE sql AS 'SELECT n';")
    function = "function: f\narguments: n int\nreturns: integer\nlanguage: sql\nbody: SELECT n\n"
    _code, plan, err = pgstate(database, desired(tmp_path, function), "plan")
    assert steps(plan) == ["drop-function public.f(integer)", "create-function public.f(integer)"], err
    assert pgstate(database, desired(tmp_path, function), "apply", "--yes")[0] == 0
    assert pgstate(database, desired(tmp_path, function), "plan")[0] == 0
