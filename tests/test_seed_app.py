"""The dogfood: the seed app as its ORM left it converges to desired/ in one apply, on every server."""

from __future__ import annotations

import json
from pathlib import Path

from pgharness import TestDatabase, load_seed_app, run_pgstate_inprocess

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
