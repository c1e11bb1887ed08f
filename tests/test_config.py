"""pgstate.toml (found upward, options override it) and where backups go (outside the repository by default;
refused inside a git work tree unless ignored there)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pgharness import TestDatabase, run_pgstate_inprocess

TABLE = "CREATE TABLE t (a int, b varchar(20), c json);"
DESIRED = """
table: t
columns:
  c: {type: jsonb}
indexes:
  - {name: t_a_idx, columns: [a]}
"""


def project(root: Path, config: str, desired: str = DESIRED, folder: str = "db/desired") -> Path:
    """A repository-like tree: root/pgstate.toml and root/<folder>/t.yaml; returns a subdirectory to run from."""
    (root / "pgstate.toml").write_text(config)
    (root / folder).mkdir(parents=True)
    (root / folder / "t.yaml").write_text(desired)
    below = root / "src" / "deep"
    below.mkdir(parents=True)
    return below


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_found_upward_paths_relative_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project(tmp_path, 'desired = "db/desired"\n'))
    result = run_pgstate_inprocess(["validate"])
    assert (result.exit_code, result.stdout.strip()) == (0, "1 file(s), 1 document(s): valid"), result.stderr
    # the option wins over the file
    result = run_pgstate_inprocess(["validate", "--desired", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "missing does not exist" in result.stderr


def test_lock_timeout_and_retries_from_the_file(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.execute(TABLE)
    monkeypatch.chdir(project(tmp_path, 'desired = "db/desired"\nlock_timeout = "250ms"\nretries = 3\n'))
    result = run_pgstate_inprocess(["plan", "--database-url", database.url, "--format", "sql"])
    assert result.exit_code == 2, result.stderr
    assert "SET LOCAL lock_timeout = '250ms'" in result.stdout
    result = run_pgstate_inprocess(["plan", "--database-url", database.url, "--format", "sql", "--lock-timeout", "1s"])
    assert "SET LOCAL lock_timeout = '1s'" in result.stdout and "250ms" not in result.stdout


def test_url_env_names_the_variable(database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database.execute(TABLE)
    monkeypatch.chdir(project(tmp_path, 'desired = "db/desired"\nurl_env = "STAGING_URL"\n'))
    monkeypatch.delenv("PGSTATE_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")  # must not be used
    monkeypatch.delenv("STAGING_URL", raising=False)
    result = run_pgstate_inprocess(["plan"])
    assert result.exit_code == 1
    assert "pgstate.toml:2:1: pgstate.toml says the database URL is in $STAGING_URL, which is not set" in result.stderr
    monkeypatch.setenv("STAGING_URL", database.url)
    result = run_pgstate_inprocess(["plan"])
    assert result.exit_code == 2 and "alter-column-type public.t.c" in result.stdout, result.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('desird = "x"\n', "pgstate.toml:1:1: unknown setting 'desird'"),
        ('url_env = "postgresql://u:secret@h/db"\n', "pgstate.toml:1:1: url_env must be the name of an environment"),
        ('lock_timeout = "2"\n', "pgstate.toml:1:1: lock_timeout: '2' is not a duration"),
        ("retries = -1\n", "pgstate.toml:1:1: retries must be a whole number >= 0"),
        ('desired = "d"\n[lint.rules]\nno-such-rule = "off"\n', "pgstate.toml:3:1: unknown lint rule 'no-such-rule'"),
        ('[lint.rules]\nduplicate-index = "loud"\n', "pgstate.toml:2:1: lint rule duplicate-index: level must be"),
        ('[targets.a]\nwave = "1"\n', "pgstate.toml:1:1: target 'a' needs url_env"),
        ('desired = "d"\nlock_timeout = \n', "pgstate.toml:2:16: not valid TOML: Invalid value"),
    ],
)
def test_bad_configuration_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, message: str
) -> None:
    monkeypatch.chdir(project(tmp_path, config))
    result = run_pgstate_inprocess(["validate"])
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_default_schema(database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents that name no schema are in pgstate.toml's `schema`."""
    database.execute("CREATE SCHEMA app; CREATE TABLE app.t (a int);")
    desired = "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n"
    monkeypatch.chdir(project(tmp_path, 'desired = "db/desired"\nschema = "app"\n', desired))
    result = run_pgstate_inprocess(["apply", "--yes", "--database-url", database.url])
    assert result.exit_code == 0, result.stderr
    assert database.query("SELECT schemaname FROM pg_indexes WHERE indexname = 't_a_idx'") == [("app",)]


def test_lint_levels(database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database.execute("CREATE TABLE t (a int); CREATE INDEX t_a ON t (a); CREATE INDEX t_a2 ON t (a);")
    desired = "table: t\nindexes:\n  - {name: t_a, columns: [a]}\n  - {name: t_a2, columns: [a]}\n"
    monkeypatch.chdir(project(tmp_path, 'desired = "db/desired"\n', desired))

    def rules(config: str) -> tuple[int, set[str]]:
        (tmp_path / "pgstate.toml").write_text('desired = "db/desired"\n' + config)
        result = run_pgstate_inprocess(["lint", "--format", "json", "--database-url", database.url])
        found = json.loads(result.stdout)["findings"]
        return result.exit_code, {f"{f['rule']}:{f['severity']}" for f in found}

    code, found = rules("")
    assert code == 0 and "duplicate-index:warning" in found
    code, found = rules('[lint.rules]\nduplicate-index = "error"\n')
    assert code == 1 and "duplicate-index:error" in found
    code, found = rules('[lint.rules]\nduplicate-index = "off"\n')
    assert code == 0 and not any(rule.startswith("duplicate-index") for rule in found)


def test_backups_go_to_the_state_directory_by_default(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.execute(TABLE + "INSERT INTO t VALUES (1, 'x', '{}');")
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.chdir(project(tmp_path, 'desired = "db/desired"\n'))
    result = run_pgstate_inprocess(["apply", "--yes", "--allow-destructive", "--database-url", database.url])
    assert result.exit_code == 0, result.stderr
    [(backup,)] = database.query("SELECT backup FROM pgstate.runs ORDER BY id DESC LIMIT 1")
    assert Path(backup).parent == state / "pgstate" / "backups" and (Path(backup) / "manifest.json").is_file()
    assert not list(tmp_path.glob("**/.pgstate"))


def test_backups_inside_a_work_tree_are_refused_unless_ignored(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.execute(TABLE + "INSERT INTO t VALUES (1, 'x', '{}');")
    below = project(tmp_path, 'desired = "db/desired"\nbackup_dir = "backups"\n')
    git(tmp_path, "init", "-q")
    monkeypatch.chdir(below)
    args = ["apply", "--yes", "--allow-destructive", "--database-url", database.url]
    result = run_pgstate_inprocess(args)
    assert result.exit_code == 3
    assert f"the backup directory {tmp_path.resolve() / 'backups'} is inside the git work tree" in result.stderr
    assert "add `/backups/` to" in result.stderr
    assert database.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attname = 'c'") == [
        ("json",)
    ]
    assert not (tmp_path / "backups").exists()
    # --backup-dir inside the tree: refused the same way
    result = run_pgstate_inprocess([*args, "--backup-dir", str(tmp_path / "db" / "dumps")])
    assert result.exit_code == 3 and "db/dumps/" in result.stderr
    # ignored by git: written there
    (tmp_path / ".gitignore").write_text("/backups/\n")
    result = run_pgstate_inprocess(args)
    assert result.exit_code == 0, result.stderr
    assert list((tmp_path / "backups").glob("run-*/manifest.json"))
    git(tmp_path, "add", "-A")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert "backups" not in status


def test_default_schema_from_prisma_url(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prisma's `?schema=app` is the schema of documents that name none (pgstate.toml's `schema` would win)."""
    database.execute("CREATE SCHEMA app; CREATE TABLE app.t (a int);")
    desired = "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n"
    monkeypatch.chdir(project(tmp_path, 'desired = "db/desired"\n', desired))
    assert "?" in database.url  # the harness's URLs carry host and port as query parameters
    result = run_pgstate_inprocess(["apply", "--yes", "--database-url", f"{database.url}&schema=app"])
    assert result.exit_code == 0, result.stderr
    assert database.query("SELECT schemaname FROM pg_indexes WHERE indexname = 't_a_idx'") == [("app",)]


def test_verbs_without_desired_files_or_database_ignore_a_broken_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make clean` runs `pgstate embedded stop`: a broken pgstate.toml must not stop it."""
    monkeypatch.chdir(project(tmp_path, "this is not toml\n"))
    assert run_pgstate_inprocess(["validate"]).exit_code == 1
    result = run_pgstate_inprocess(["embedded", "status"])
    assert result.exit_code == 0, result.stderr
