"""The dogfood: the seed app as its ORM left it converges to desired/ in one apply, on every server."""

from __future__ import annotations

import json
from pathlib import Path

from catalog import differences, snapshot
from pgharness import FORGET_LEGACY_READS, TestDatabase, load_seed_app, run_pgstate_inprocess

ROOT = Path(__file__).resolve().parent.parent


def test_seed_app_converges(database: TestDatabase, tmp_path: Path) -> None:
    load_seed_app(database)
    common = ["--desired", str(ROOT / "desired"), "--database-url", database.url]
    assert run_pgstate_inprocess(["validate", "--desired", str(ROOT / "desired")]).exit_code == 0
    assert run_pgstate_inprocess(["plan", *common]).exit_code == 2
    applied = run_pgstate_inprocess(["apply", "--yes", "--allow-destructive", "--backup-dir", str(tmp_path), *common])
    assert applied.exit_code == 0, applied.stderr
    drift = run_pgstate_inprocess(["drift", *common, "--format", "json"])
    # The test servers do not preload pg_stat_statements: drift says so until the server runs with it.
    findings = json.loads(drift.stdout)["findings"]
    assert [(f["finding"], f["target"]) for f in findings] == [("extension", "pg_stat_statements")], findings
    assert run_pgstate_inprocess(["plan", *common]).exit_code == 0
    assert database.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\"User\"'::regclass"
        " AND attname = 'resumeData'"
    ) == [("jsonb",)]
    assert database.query("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == [(0,)]
    assert database.query("SELECT to_regclass('interviews')") == [(None,)]


def test_seed_app_rolls_back_to_an_identical_catalog(database: TestDatabase, tmp_path: Path) -> None:
    """Apply the whole dogfood, then roll it back: every object of every kind is as before, the retired table
    and its rows included (the converted json values are the run's backup, which rollback does not restore)."""
    load_seed_app(database)
    with database.connect() as conn:  # reading the legacy table is a scan: forgotten again, as after loading
        legacy = conn.execute(LEGACY_ROWS.encode()).fetchall()
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
        conn.execute(FORGET_LEGACY_READS.encode())
    before = snapshot(database)
    common = ["--desired", str(ROOT / "desired"), "--database-url", database.url]
    backups = ["--backup-dir", str(tmp_path)]
    applied = run_pgstate_inprocess(["apply", "--yes", "--allow-destructive", *backups, *common])
    assert applied.exit_code == 0, applied.stderr
    rolled_back = run_pgstate_inprocess(["rollback", "1", "--yes", "--force", *backups, *common])
    assert rolled_back.exit_code == 0, rolled_back.stderr
    assert differences(before, snapshot(database)) == []
    assert database.query(LEGACY_ROWS) == legacy
    again = run_pgstate_inprocess(["rollback", "1", "--yes", "--force", *backups, *common])
    assert again.exit_code == 0 and "No changes" in again.stdout, again.stderr


LEGACY_ROWS = "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM interviews t"
