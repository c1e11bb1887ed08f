"""Role settings across runs: only what pgstate set is reset when the desired files stop listing it; drift names
a changed value and a missing role; export writes a role's settings for each scope."""

from __future__ import annotations

from pathlib import Path

import yaml

from pgharness import TestDatabase, pgstate_json, plan_steps, run_pgstate_inprocess, write_desired

THIS_DATABASE = "s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())"


def role_settings(db: TestDatabase, role: str) -> list[str]:
    rows = db.query(
        f"SELECT ARRAY(SELECT unnest(s.setconfig) ORDER BY 1) FROM pg_db_role_setting s JOIN pg_roles r"
        f" ON r.oid = s.setrole WHERE r.rolname = %s AND {THIS_DATABASE}",
        [role],
    )
    return list(rows[0][0]) if rows else []


def test_only_what_pgstate_set_is_reset(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "DO $$ BEGIN EXECUTE format('ALTER ROLE authenticated IN DATABASE %I SET work_mem = ''8MB''',"
        " current_database()); END $$;"
    )
    both = "role: authenticated\nsettings:\n  statement_timeout: 8s\n  lock_timeout: 2s\n"
    code, _, err = pgstate_json(database, write_desired(tmp_path, both), "apply", "--yes")
    assert code == 0, err
    assert role_settings(database, "authenticated") == ["lock_timeout=2s", "statement_timeout=8s", "work_mem=8MB"]

    one = "role: authenticated\nsettings:\n  statement_timeout: 8s\n"
    code, plan, err = pgstate_json(database, write_desired(tmp_path, one), "plan")
    assert plan_steps(plan) == ["reset-role-setting authenticated.lock_timeout"], err  # work_mem is not ours
    assert pgstate_json(database, write_desired(tmp_path, one), "apply", "--yes")[0] == 0
    assert role_settings(database, "authenticated") == ["statement_timeout=8s", "work_mem=8MB"]

    # With no role document left at all, what pgstate set is still reset.
    code, plan, err = pgstate_json(database, write_desired(tmp_path, "database:\n  settings: {}\n"), "plan")
    assert plan_steps(plan) == ["reset-role-setting authenticated.statement_timeout"], err


def test_drift_names_a_changed_value_and_a_missing_role(database: TestDatabase, tmp_path: Path) -> None:
    desired = write_desired(
        tmp_path,
        "role: authenticated\nsettings:\n  statement_timeout: 8s\n",
        "role: nobody_has_this_role\nsettings:\n  statement_timeout: 8s\n",
    )
    code, report, _ = pgstate_json(database, desired, "drift")
    assert code == 2
    found = {(f["finding"], f["target"], f["class"]) for f in report["findings"]}
    assert found == {
        ("role-setting", "authenticated.statement_timeout", "drift"),
        ("missing-role", "nobody_has_this_role.*", "action"),
    }
    code, _, err = pgstate_json(database, desired, "plan")
    assert code == 1 and "d1.yaml:1:1: role 'nobody_has_this_role' does not exist" in err, err


def test_export_writes_each_scope(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "DO $$ BEGIN EXECUTE format('ALTER ROLE anon IN DATABASE %I SET statement_timeout = ''3s''',"
        " current_database()); END $$;"
    )
    out = tmp_path / "exported"
    run = run_pgstate_inprocess(["export", "--out", str(out), "--database-url", database.url, "--role", "anon"])
    assert run.exit_code == 0, run.stderr
    documents = [yaml.safe_load(path.read_text()) for path in sorted(out.glob("*.yaml"))]
    assert {"role": "anon", "database_only": True, "settings": {"statement_timeout": "3s"}} in documents
