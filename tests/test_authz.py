"""Authorization changes are hazards: a step that widens who can see or change rows is `authz-widening`, a policy
expression that changes (and is not provably the same) is `authz-changed`; apply refuses both (exit 3, nothing
changed) without --allow-authz-widening, and converges with it. Narrowing is no hazard, and neither is the
InitPlan rewrite `auth.uid() = owner` -> `(SELECT auth.uid()) = owner`. A rollback restores the access of before
without the option, its plan still naming the hazard.

Every outcome is read from the plan's JSON and the catalog (tests/catalog.py), on PostgreSQL 18 and 15.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog import differences, snapshot
from pgharness import TestDatabase, run_pgstate_inprocess
from pgharness import pgstate_json as pgstate
from pgharness import write_desired as desired

AUTHZ = {"authz-widening", "authz-changed"}
ALLOW = "--allow-authz-widening"

TABLE = """
CREATE TABLE docs (id int PRIMARY KEY, gone int, owner uuid NOT NULL, published boolean NOT NULL DEFAULT false);
ALTER TABLE docs DROP COLUMN gone;  -- the desired policies' copy numbers the columns otherwise
GRANT SELECT, INSERT, UPDATE, DELETE ON docs TO anon, authenticated;
"""
OWN = "CREATE POLICY own ON docs FOR SELECT TO authenticated USING (owner = (SELECT auth.uid()));"
OWN_YAML = """  - name: own
    command: select
    roles: [authenticated]
    using: owner = (select auth.uid())
"""


def document(rls: str, *policies: str) -> str:
    return f"table: docs\nrls: {rls}\npolicies:" + ("\n" + "".join(policies) if policies else " []\n")


def authz_hazards(plan: dict[str, Any]) -> dict[str, list[str]]:
    """Step -> its authz hazards, for the steps that have any."""
    found = {}
    for step in plan["steps"]:
        hazards = sorted(AUTHZ & set(step["hazards"]))
        if hazards:
            found[f"{step['action']} {step['target']}"] = hazards
    return found


def refused_then_applied(db: TestDatabase, directory: Path, expected: dict[str, list[str]]) -> dict[str, Any]:
    """The plan carries exactly these authz hazards; apply without the option is refused and changes nothing in
    the catalog; with it, the run converges. Returns the plan."""
    code, plan, err = pgstate(db, directory, "plan")
    assert code == 2, err
    assert authz_hazards(plan) == expected
    before = snapshot(db)
    code, _, err = pgstate(db, directory, "apply", "--yes")
    assert code == 3, err
    assert "the plan widens or changes who can see or change rows" in err and ALLOW in err
    for step in expected:
        assert step in err
    assert differences(before, snapshot(db)) == []
    assert db.query("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgstate'") == [(0,)]  # no run recorded
    applied(db, directory, ALLOW)
    return plan


def applied(db: TestDatabase, directory: Path, *options: str) -> None:
    code, _, err = pgstate(db, directory, "apply", "--yes", *options)
    assert code == 0, err
    code, plan, err = pgstate(db, directory, "plan")
    assert (code, plan["steps"]) == (0, []), err


def no_hazard(db: TestDatabase, directory: Path) -> dict[str, Any]:
    """The plan has steps but no authz hazard, and apply without the option converges."""
    code, plan, err = pgstate(db, directory, "plan")
    assert code == 2, err
    assert authz_hazards(plan) == {}
    applied(db, directory)
    return plan


def flags(db: TestDatabase) -> list[tuple[Any, ...]]:
    return db.query("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'docs'::regclass")


def policies(db: TestDatabase) -> list[tuple[Any, ...]]:
    return db.query(
        "SELECT polname, polcmd, polpermissive, polroles::regrole[]::text, pg_get_expr(polqual, polrelid),"
        " pg_get_expr(polwithcheck, polrelid) FROM pg_policy WHERE polrelid = 'docs'::regclass ORDER BY 1"
    )


# --- RLS flags -----------------------------------------------------------------------------------------------------


def test_disabling_rls_widens(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    plan = refused_then_applied(
        database,
        desired(tmp_path, document("{enabled: false}", OWN_YAML)),
        {"disable-rls public.docs": ["authz-widening"]},
    )
    assert plan["steps"][-1]["action"] == "disable-rls"
    assert flags(database) == [(False, False)]


def test_unforcing_rls_widens_for_the_owner(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;" + OWN)
    directory = desired(tmp_path, document("{enabled: true, forced: false}", OWN_YAML))
    refused_then_applied(database, directory, {"no-force-rls public.docs": ["authz-widening"]})
    assert flags(database) == [(True, False)]


def test_unforcing_a_table_with_rls_off_does_not_widen(database: TestDatabase, tmp_path: Path) -> None:
    # FORCE does nothing while RLS is off: the table is open before and after.
    database.execute(TABLE + "ALTER TABLE docs FORCE ROW LEVEL SECURITY;")
    no_hazard(database, desired(tmp_path, "table: docs\nrls: {enabled: false, forced: false}\n"))
    assert flags(database) == [(False, False)]


# --- policies added, dropped, changed ------------------------------------------------------------------------------

PUBLISHED_YAML = """  - name: published
    command: select
    roles: [anon, authenticated]
    using: published
"""


def test_a_permissive_policy_added_widens(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    directory = desired(tmp_path, document("{enabled: true}", OWN_YAML, PUBLISHED_YAML))
    refused_then_applied(database, directory, {"create-policy public.docs.published": ["authz-widening"]})
    assert [row[0] for row in policies(database)] == ["own", "published"]


def test_policies_added_with_rls_turned_on_do_not_widen(database: TestDatabase, tmp_path: Path) -> None:
    # The end state is what matters: the table was open to everyone, now it has RLS and two policies.
    database.execute(TABLE)
    plan = no_hazard(database, desired(tmp_path, document("{enabled: true}", OWN_YAML, PUBLISHED_YAML)))
    # Fail closed: RLS is on before the policies are created.
    assert [step["action"] for step in plan["steps"]] == ["enable-rls", "create-policy", "create-policy"]
    assert flags(database) == [(True, False)]


def test_a_policy_added_on_a_table_with_rls_off_does_not_widen(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    no_hazard(database, desired(tmp_path, "table: docs\npolicies:\n" + PUBLISHED_YAML))
    assert flags(database) == [(False, False)] and len(policies(database)) == 1


def test_a_renamed_policy_does_not_widen(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    plan = no_hazard(
        database, desired(tmp_path, document("{enabled: true}", OWN_YAML.replace("name: own", "name: mine")))
    )
    assert [step["action"] for step in plan["steps"]] == ["drop-policy", "create-policy"]


RESTRICTIVE = (
    "CREATE POLICY not_banned ON docs AS RESTRICTIVE FOR ALL TO authenticated"
    " USING (owner <> '00000000-0000-0000-0000-000000000666');"
)
RESTRICTIVE_YAML = """  - name: not_banned
    permissive: false
    roles: [authenticated]
    using: owner <> '00000000-0000-0000-0000-000000000666'
"""


def test_a_restrictive_policy_dropped_widens(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN + RESTRICTIVE)
    directory = desired(tmp_path, document("{enabled: true}", OWN_YAML))
    refused_then_applied(database, directory, {"drop-policy public.docs.not_banned": ["authz-widening"]})
    assert [row[0] for row in policies(database)] == ["own"]


def test_restrictive_made_permissive_widens(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN + RESTRICTIVE)
    permissive = RESTRICTIVE_YAML.replace("permissive: false", "permissive: true")
    directory = desired(tmp_path, document("{enabled: true}", OWN_YAML, permissive))
    plan = refused_then_applied(database, directory, {"create-policy public.docs.not_banned": ["authz-widening"]})
    assert [step["action"] for step in plan["steps"]] == ["drop-policy", "create-policy"]
    assert [row[2] for row in policies(database) if row[0] == "not_banned"] == [True]


@pytest.mark.parametrize(
    ("roles", "step"),
    [
        ("[anon, authenticated]", "alter-policy public.docs.own"),  # a role added
        ("[public]", "alter-policy public.docs.own"),  # every role
    ],
)
def test_roles_widened(database: TestDatabase, tmp_path: Path, roles: str, step: str) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    directory = desired(tmp_path, document("{enabled: true}", OWN_YAML.replace("[authenticated]", roles)))
    refused_then_applied(database, directory, {step: ["authz-widening"]})
    assert policies(database)[0][3] == ("{-}" if roles == "[public]" else "{anon,authenticated}")


def test_command_widened(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    directory = desired(tmp_path, document("{enabled: true}", OWN_YAML.replace("command: select", "command: all")))
    plan = refused_then_applied(database, directory, {"create-policy public.docs.own": ["authz-widening"]})
    assert [step["action"] for step in plan["steps"]] == ["drop-policy", "create-policy"]
    assert policies(database)[0][1] == "*"


def test_an_expression_changed_is_authz_changed(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    directory = desired(
        tmp_path, document("{enabled: true}", OWN_YAML.replace("using: owner", "using: published OR owner"))
    )
    refused_then_applied(database, directory, {"alter-policy public.docs.own": ["authz-changed"]})
    assert policies(database)[0][4] == "(published OR (owner = ( SELECT auth.uid() AS uid)))"


def test_narrowing_is_no_hazard(database: TestDatabase, tmp_path: Path) -> None:
    """On a table with RLS on: forced, roles narrowed, a command narrowed, a permissive policy dropped, one made
    restrictive, a restrictive one added; all at once, applied without the option."""
    database.execute(
        TABLE
        + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;"
        + "CREATE POLICY published ON docs FOR SELECT TO anon, authenticated USING (published);"
        + "CREATE POLICY writers ON docs FOR ALL TO authenticated USING (owner = (SELECT auth.uid()));"
        + "CREATE POLICY everyone ON docs FOR SELECT USING (true);"
        + "CREATE POLICY tighten ON docs FOR SELECT TO authenticated USING (owner IS NOT NULL);"
    )
    narrowed = document(
        "{enabled: true, forced: true}",
        PUBLISHED_YAML.replace("[anon, authenticated]", "[authenticated]"),
        "  - name: writers\n    command: update\n    roles: [authenticated]\n    using: owner = (select auth.uid())\n",
        "  - name: tighten\n    command: select\n    permissive: false\n    roles: [authenticated]\n"
        "    using: owner IS NOT NULL\n",
        RESTRICTIVE_YAML,
    )
    plan = no_hazard(database, desired(tmp_path, narrowed))
    assert sorted(f"{step['action']} {step['target']}" for step in plan["steps"]) == [
        "alter-policy public.docs.published",
        "create-policy public.docs.not_banned",
        "create-policy public.docs.tighten",
        "create-policy public.docs.writers",
        "drop-policy public.docs.everyone",
        "drop-policy public.docs.tighten",
        "drop-policy public.docs.writers",
        "force-rls public.docs",
    ]
    assert flags(database) == [(True, True)]
    assert [(row[0], row[1], row[2]) for row in policies(database)] == [
        ("not_banned", "*", False),
        ("published", "r", True),
        ("tighten", "r", False),
        ("writers", "w", True),
    ]


# --- the InitPlan rewrite ------------------------------------------------------------------------------------------

SLOW = (
    "CREATE POLICY own ON docs FOR ALL TO authenticated USING (auth.uid() = owner) WITH CHECK (auth.uid() = owner);"
    "CREATE POLICY by_role ON docs FOR SELECT TO authenticated"
    " USING (current_setting('request.jwt.claim.role', true) = 'admin' OR published);"
)
FAST_YAML = """  - name: own
    roles: [authenticated]
    using: (select auth.uid()) = owner
    with_check: (SELECT auth.uid()) = owner
  - name: by_role
    command: select
    roles: [authenticated]
    using: (select current_setting('request.jwt.claim.role', true)) = 'admin' OR published
"""


def test_the_initplan_rewrite_is_not_a_hazard(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + SLOW)
    plan = no_hazard(database, desired(tmp_path, document("{enabled: true}", FAST_YAML)))
    assert [step["action"] for step in plan["steps"]] == ["alter-policy", "alter-policy"]
    assert [row[4] for row in policies(database)] == [
        "((( SELECT current_setting('request.jwt.claim.role'::text, true) AS current_setting) = 'admin'::text)"
        " OR published)",
        "(( SELECT auth.uid() AS uid) = owner)",
    ]


def test_unwrapping_the_initplan_is_not_a_hazard_either(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    no_hazard(
        database, desired(tmp_path, document("{enabled: true}", OWN_YAML.replace("(select auth.uid())", "auth.uid()")))
    )
    assert policies(database)[0][4] == "(owner = auth.uid())"


def test_wrapping_a_volatile_call_is_a_change(database: TestDatabase, tmp_path: Path) -> None:
    # Once per statement is not once per row for a volatile function: not provably the same.
    database.execute(
        TABLE + "CREATE FUNCTION pick() RETURNS uuid LANGUAGE sql VOLATILE AS $$ SELECT auth.uid() $$;"
        "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY own ON docs FOR SELECT TO authenticated USING (owner = pick());"
    )
    directory = desired(tmp_path, document("{enabled: true}", OWN_YAML.replace("auth.uid()", "pick()")))
    refused_then_applied(database, directory, {"alter-policy public.docs.own": ["authz-changed"]})


def test_a_wrapped_call_with_another_argument_is_a_change(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + SLOW)
    changed = FAST_YAML.replace("'request.jwt.claim.role', true))", "'request.jwt.claim.kind', true))")
    directory = desired(tmp_path, document("{enabled: true}", changed))
    refused_then_applied(database, directory, {"alter-policy public.docs.by_role": ["authz-changed"]})


# --- every plan format, lint, rollback -----------------------------------------------------------------------------


def test_every_plan_format_shows_the_hazard(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    directory = desired(tmp_path, document("{enabled: false}", OWN_YAML))
    common = ["--desired", str(directory), "--database-url", database.url]
    outputs = {}
    for name in ("text", "markdown", "sql", "json"):
        run = run_pgstate_inprocess(["plan", *common, "--format", name])
        assert run.exit_code == 2, run.stderr
        outputs[name] = run.stdout
    assert "hazard authz-widening: widens who can see or change rows" in outputs["text"]
    gate = "🔓 **1 step changes who can see or change rows**: `apply` needs `--allow-authz-widening`"
    assert gate in outputs["markdown"]
    assert (
        "- 🔓 **disable rls** `public.docs`: disable row level security — **widens who can see or change rows**"
        in outputs["markdown"]
    )
    assert "-- disable-rls public.docs: disable row level security\n-- hazard authz-widening:" in outputs["sql"]
    assert json.loads(outputs["json"])["steps"][0]["hazards"] == ["access-exclusive-lock", "authz-widening"]


def test_lint_names_the_step(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    directory = desired(tmp_path, document("{enabled: true}", OWN_YAML, PUBLISHED_YAML))
    run = run_pgstate_inprocess(
        ["lint", "--desired", str(directory), "--database-url", database.url, "--format", "json"]
    )
    findings = [f for f in json.loads(run.stdout)["findings"] if f["rule"] == "authz-change"]
    assert [(f["target"], f["severity"]) for f in findings] == [("public.docs.published", "warning")], findings
    assert findings[0]["location"]["line"] == 8  # the policy's list item in the desired file


def test_rollback_restores_access_without_the_option(database: TestDatabase, tmp_path: Path) -> None:
    """A run that closes the table (RLS on, a restrictive policy) is applied without the option; rolling it back
    opens the table again: the rollback's plan names the hazards, and it needs no option."""
    database.execute(TABLE + OWN)
    before = snapshot(database)
    applied(database, desired(tmp_path, document("{enabled: true}", OWN_YAML, RESTRICTIVE_YAML)))
    assert flags(database) == [(True, False)]
    code, result, err = pgstate(database, desired(tmp_path, "table: docs\n"), "rollback", "1", "--yes")
    assert code == 0, err
    # RLS goes off: that step widens; the restrictive policy dropped with it changes nothing more.
    assert authz_hazards(result["plan"]) == {"disable-rls public.docs": ["authz-widening"]}
    assert [step["action"] for step in result["plan"]["steps"]] == ["drop-policy", "disable-rls"]
    assert differences(before, snapshot(database)) == []


def test_a_saved_plan_is_refused_too(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE + "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;" + OWN)
    directory = desired(tmp_path, document("{enabled: true}", OWN_YAML, PUBLISHED_YAML))
    saved = tmp_path / "plan.json"
    common = ["--desired", str(directory), "--database-url", database.url]
    assert run_pgstate_inprocess(["plan", *common, "--out", str(saved)]).exit_code == 2
    before = snapshot(database)
    refused = run_pgstate_inprocess(["apply", *common, "--yes", "--plan", str(saved)])
    assert refused.exit_code == 3 and ALLOW in refused.stderr, refused.stderr
    assert differences(before, snapshot(database)) == []
    run = run_pgstate_inprocess(["apply", *common, "--yes", "--plan", str(saved), ALLOW])
    assert run.exit_code == 0, run.stderr
    assert [row[0] for row in policies(database)] == ["own", "published"]
