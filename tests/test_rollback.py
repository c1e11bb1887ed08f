"""Rollback: what the pre-run state holds, how it reads back (also when pgstate 0.1 recorded it), and a rollback
that cannot restore something says so and fails."""

from __future__ import annotations

import json
from pathlib import Path

from catalog import differences, snapshot
from pgharness import TestDatabase, pgstate_json, run_pgstate_inprocess, write_desired


def test_the_pre_run_state_is_yaml_the_kinds_wrote(database: TestDatabase, tmp_path: Path) -> None:
    """The recorded state reads back in order (a document's kind is its first key), every kind's objects in it."""
    database.execute("CREATE TABLE t (id int PRIMARY KEY, doc json, note text) WITH (fillfactor = 90);")
    desired = write_desired(
        tmp_path,
        "table: t\ncolumns:\n  doc: {type: jsonb}\nindexes:\n  - {name: t_note_idx, columns: [note]}\n"
        "rls: {enabled: true}\npolicies:\n  - {name: p, roles: [authenticated], using: 'id > 0'}\n"
        "storage: {fillfactor: 80}\n",
        "database:\n  settings: {work_mem: 8MB}\n",
    )
    code, _, err = pgstate_json(
        database, desired, "apply", "--yes", "--allow-destructive", "--backup-dir", str(tmp_path / "b")
    )
    assert code == 0, err
    [(state,)] = database.query("SELECT pre_state FROM pgstate.runs WHERE id = 1")
    assert state["format"] == "pgstate-state/2" and state["unrestorable"] == []
    text = state["yaml"]
    assert text.startswith("database:\n  settings:\n    work_mem: null\n")
    assert "table: t\nschema: public\ncolumns:\n  doc:\n    type: json\n" in text
    assert "- name: t_note_idx\n  present: false\n" in text and "rls:\n  enabled: false\n" in text
    assert "policies: []\n" in text and "storage:\n  fillfactor: 90\n" in text


def test_a_run_recorded_by_pgstate_0_1_rolls_back(database: TestDatabase, tmp_path: Path) -> None:
    """pgstate 0.1 stored the pre-run documents as jsonb (keys reordered: `rls` before `table`), and rolled back
    nothing of them ("No changes"). They are read back as they were meant."""
    database.execute(
        "CREATE TABLE t (id int PRIMARY KEY, a varchar(20)); CREATE INDEX t_a_idx ON t (a);"
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON t TO authenticated USING (id > 0);"
    )
    before = snapshot(database)
    run = write_desired(
        tmp_path,
        "table: t\ncolumns:\n  a: {type: text}\nindexes:\n  - {name: t_id_a_idx, columns: [id, a]}\n"
        "rls: {enabled: false}\npolicies: []\n",
    )
    code, _, err = pgstate_json(database, run, "apply", "--yes", "--allow-authz-widening")  # RLS goes off
    assert code == 0, err
    legacy = {
        "format": "pgstate-state/1",
        "documents": [
            {
                "rls": {"enabled": True, "forced": False},
                "table": "t",
                "schema": "public",
                "columns": {"a": {"type": "character varying(20)"}},
                "indexes": [{"name": "t_a_idx", "columns": ["a"]}],
                "policies": [
                    {"name": "p", "command": "all", "roles": ["authenticated"], "permissive": True, "using": "(id > 0)"}
                ],
                "prune_indexes": False,
            }
        ],
        "absent_functions": [],
        "absent_views": [],
        "absent_indexes": [["public", "t_id_a_idx"]],
    }
    with database.connect() as conn:
        conn.execute("UPDATE pgstate.runs SET pre_state = %s::jsonb WHERE id = 1", [json.dumps(legacy)])
    result = run_pgstate_inprocess(["rollback", "1", "--yes", "--desired", str(run), "--database-url", database.url])
    assert result.exit_code == 0, result.stderr
    assert "Rolled back run 1" in result.stdout
    assert differences(before, snapshot(database)) == []


def test_a_rollback_that_cannot_restore_something_says_so_and_fails(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (id int PRIMARY KEY, a int);")
    desired = write_desired(tmp_path, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    assert pgstate_json(database, desired, "apply", "--yes")[0] == 0
    with database.connect() as conn:  # what a kind could not write as YAML is named in the record
        conn.execute(
            "UPDATE pgstate.runs SET pre_state = jsonb_set(pre_state, '{unrestorable}',"
            ' \'[{"object": "index public.t_b_idx", "reason": "its access method bloom is not one of the'
            " format''s\"}]') WHERE id = 1"
        )
    result = run_pgstate_inprocess(
        ["rollback", "1", "--yes", "--desired", str(desired), "--database-url", database.url]
    )
    assert result.exit_code == 1
    assert "except for what its pre-run state could not record: index public.t_b_idx" in result.stderr
    assert database.query("SELECT to_regclass('t_a_idx')") == [(None,)]  # the rest was rolled back
