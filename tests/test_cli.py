"""The command line as users meet it: options, formats, exit codes, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgharness import TestDatabase, run_pgstate, run_pgstate_inprocess

TABLE = "CREATE TABLE t (a int, b varchar(20), c json);"
DESIRED = """
table: t
columns:
  c: {type: jsonb}
indexes:
  - {name: t_a_idx, columns: [a]}
"""


@pytest.fixture
def desired(tmp_path: Path) -> Path:
    directory = tmp_path / "desired"
    directory.mkdir()
    (directory / "t.yaml").write_text(DESIRED)
    return directory


def run(db: TestDatabase, desired: Path, *args: str) -> tuple[int, str, str]:
    result = run_pgstate_inprocess([*args, "--desired", str(desired), "--database-url", db.url])
    return result.exit_code, result.stdout, result.stderr


def test_plan_formats(database: TestDatabase, desired: Path) -> None:
    database.execute(TABLE)
    code, text, _ = run(database, desired, "plan")
    assert code == 2
    assert "alter-column-type public.t.c" in text and "rewrites public.t" in text and "table-rewrite" in text
    code, out, _ = run(database, desired, "plan", "--format", "json")
    plan = json.loads(out)
    assert code == 2 and plan["format"] == "pgstate-plan/1" and len(plan["fingerprint"]) == 64
    step = plan["steps"][0]
    assert set(step) == {
        "action",
        "kind",
        "subject",
        "location",
        "target",
        "table",
        "summary",
        "sql",
        "lock",
        "transactional",
        "phase",
        "rewrites",
        "destroys",
        "hazards",
    }
    assert step["rewrites"]["rows"] >= -1
    assert step["subject"] == {"kind": "column", "parts": ["public", "t", "c"], "label": "public.t.c"}
    assert step["location"].endswith("t.yaml:4:3")  # where the column is declared
    code, sql_text, _ = run(database, desired, "plan", "--format", "sql")
    assert code == 2 and "BEGIN;" in sql_text and "COMMIT;" in sql_text and 'USING ("c"::jsonb)' in sql_text
    code, markdown, _ = run(database, desired, "plan", "--format", "markdown")
    assert code == 2 and markdown.startswith("### pgstate plan\n\n**1 to add, 1 to change, 0 to destroy**")
    assert "- ⚠️ **alter column type** `public.t.c`: change type" in markdown  # a list, no wide table


@pytest.mark.parametrize(
    "args",
    [["--lock-timeout", "soon"], ["--retries", "-1"], ["--format", "yaml"], ["--no-such-option"]],
)
def test_bad_options_exit_1(desired: Path, args: list[str]) -> None:
    result = run_pgstate_inprocess(["apply", "--desired", str(desired), *args])
    assert result.exit_code == 1
    assert "pgstate: error:" in result.stderr


def test_apply_without_terminal_or_yes_changes_nothing(database: TestDatabase, desired: Path) -> None:
    database.execute(TABLE)
    result = run_pgstate(["apply", "--allow-destructive", "--desired", str(desired), "--database-url", database.url])
    assert result.exit_code == 1
    assert "pass --yes" in result.stderr
    # A destructive plan is refused first, even before the question.
    result = run_pgstate(["apply", "--yes", "--desired", str(desired), "--database-url", database.url])
    assert result.exit_code == 3
    assert "the plan destroys data: alter-column-type public.t.c" in result.stderr
    assert database.query("SELECT to_regnamespace('pgstate')") == [(None,)]
    assert database.query("SELECT to_regclass('t_a_idx')") == [(None,)]


def test_apply_json_reports_the_run(database: TestDatabase, desired: Path) -> None:
    database.execute(TABLE)
    code, out, err = run(
        database,
        desired,
        "apply",
        "--yes",
        "--allow-destructive",
        "--format",
        "json",
        "--backup-dir",
        str(desired.parent / "backups"),
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "applied" and result["run_id"] == 1 and len(result["plan"]["steps"]) == 2
    code, out, _ = run(database, desired, "apply", "--yes", "--allow-destructive", "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "no changes"


def test_drift_formats(database: TestDatabase, desired: Path) -> None:
    database.execute(TABLE + "CREATE INDEX t_b_idx ON t (b); CREATE INDEX t_a_idx ON t (a, b);")
    code, text, _ = run(database, desired, "drift")
    assert code == 2
    assert "column public.t.c: type is json, desired jsonb" in text
    assert "index public.t_a_idx: definition differs" in text
    assert "index public.t_b_idx: index exists but is not declared" in text
    code, out, _ = run(database, desired, "drift", "--format", "json")
    report = json.loads(out)
    assert {f["finding"] for f in report["findings"]} == {"column-type", "index-definition"}
    # Without prune_indexes an undeclared index is information, not drift: the plan leaves it alone.
    assert {f["finding"] for f in report["information"]} == {"unmanaged-index"}
    code, markdown, _ = run(database, desired, "drift", "--format", "markdown")
    assert markdown.startswith("### pgstate drift") and "| object | finding | desired | live |" in markdown


def test_drift_reports_invalid_indexes(database: TestDatabase, desired: Path) -> None:
    database.execute(
        TABLE + "CREATE INDEX t_a_idx ON t (a);"
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 't_a_idx'::regclass;"
    )
    code, out, _ = run(database, desired, "drift", "--format", "json")
    assert code == 2
    assert "invalid-index" in {f["finding"] for f in json.loads(out)["findings"]}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:S3cret-pw@127.0.0.1:1/app",
        "postgresql://alice@127.0.0.1:1/app?password=S3cret-pw",
        "host=127.0.0.1 port=1 dbname=app password='S3cret-pw'",
        "host=127.0.0.1 port=1 password = S3cret-pw dbname=app",
    ],
)
def test_password_never_printed_even_verbose(desired: Path, url: str) -> None:
    result = run_pgstate(["plan", "--verbose", "--desired", str(desired), "--database-url", url])
    assert result.exit_code == 1
    assert "cannot connect to database app on 127.0.0.1:1" in result.stderr
    assert "S3cret" not in result.stdout + result.stderr


def test_plan_out_into_a_missing_folder_is_one_message(database: TestDatabase, desired: Path, tmp_path: Path) -> None:
    database.execute(TABLE)
    missing = tmp_path / "no" / "such" / "plan.json"
    code, _, err = run(database, desired, "plan", "--out", str(missing))
    assert code == 1 and not missing.exists()
    assert err.strip() == f"pgstate: cannot use {missing}: No such file or directory", err


@pytest.mark.parametrize("password", ["p", "connect", "to"])
def test_a_short_or_common_password_is_hidden_without_mangling_the_message(desired: Path, password: str) -> None:
    """The password goes only where a connection string carries it; words that contain it stay as they are."""
    for url in (
        f"postgresql://alice:{password}@127.0.0.1:1/app",
        f"host=127.0.0.1 port=1 dbname=app password={password}",
    ):
        result = run_pgstate(["plan", "--verbose", "--desired", str(desired), "--database-url", url])
        assert result.exit_code == 1
        assert "pgstate: cannot connect to database app on 127.0.0.1:1" in result.stderr, result.stderr
        assert f":{password}@" not in result.stderr and f"password={password}" not in result.stderr
        assert "***" not in result.stderr  # nothing echoed the URL, so nothing needed hiding


def test_a_url_only_libpq_parses_is_a_clear_error() -> None:
    """Found by the input fuzz: Python's URL parser refuses `127.0.0.1:1[` ("Invalid IPv6 URL") where libpq
    parses it; looking for its password must not crash the message that says why it cannot connect."""
    run = run_pgstate_inprocess(["export", "t", "--database-url=postgres://127.0.0.1:1[", "--desired=good"])
    assert run.exit_code == 1, run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    assert "cannot connect" in run.stderr, run.stderr
