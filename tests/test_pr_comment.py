"""The pull-request comment people review (`plan --format markdown --base REF --lint`), as plan.yml posts it.

A real git repository with a base commit and a pull request's commit, a database that already differs from the
base (drift), and a pull request that changes a column json -> jsonb, retires a table its guard refuses to drop,
and adds Supabase's starter policy (a lint error). The comment says what each step changes, marks what destroys
data, shows the refusal beside the steps that would run, keeps the pull request's own steps apart from the drift,
and shows lint's findings; it is a list, never a wide table. Also: --base in a shallow clone, as actions/checkout
makes one, and the refusal and colour of the text format.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from pgharness import TestDatabase, run_pgstate

BEFORE = """
CREATE TABLE orders (id int PRIMARY KEY, customer int, status text, note json);
INSERT INTO orders SELECT g, g % 10, 'new', '{"a": 1}' FROM generate_series(1, 100) g;
CREATE INDEX orders_status_idx ON orders (status);
CREATE TABLE legacy_events (id int, created_at timestamptz);
INSERT INTO legacy_events VALUES (1, now() - interval '1 day');
ANALYZE;
"""
# The base: orders_customer_idx is declared and was never built (drift, there before the pull request).
BASE_ORDERS = """table: orders
columns:
  note: {type: json}
indexes:
  - {name: orders_customer_idx, columns: [customer]}
  - {name: orders_status_idx, columns: [status]}
"""
PR_ORDERS = BASE_ORDERS.replace("{type: json}", "{type: jsonb}") + (
    "rls: {enabled: true}\n"
    "policies:\n"
    "  - name: Enable read access for all users\n"  # Supabase's starter policy: open to public
    "    command: select\n"
    "    using: 'true'\n"
)
PR_LEGACY = "table: legacy_events\npresent: false\nretire:\n  activity_column: created_at\n  quiet_days: 7\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / "desired" / name).write_text(text)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def pull_request_repo(tmp_path: Path) -> tuple[Path, str]:
    """A repository on main with the base commit and the pull request's commit on top; (repo, base sha)."""
    repo = tmp_path / "repo"
    (repo / "desired").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    base = commit(repo, {"orders.yaml": BASE_ORDERS}, "orders")
    commit(repo, {"orders.yaml": PR_ORDERS, "legacy_events.yaml": PR_LEGACY}, "jsonb, retire legacy_events, RLS")
    return repo, base


def sections(markdown: str) -> dict[str, str]:
    """The comment's `####` sections by title (the counts after ` · ` left out)."""
    found = {}
    for part in markdown.split("\n#### ")[1:]:
        title, _, body = part.partition("\n")
        found[title.split(" · ")[0]] = body.split("\n<details>")[0]
    return found


def rendered(markdown: str) -> str:
    """What a reader sees: the markdown rendered (CommonMark with raw HTML, as GitHub allows it), tags removed."""
    page = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def line_of(section: str, target: str) -> str:
    """The section's one list item about ``target`` (the first code span of the item)."""
    (line,) = [line for line in section.splitlines() if line.startswith("- ") and line.split("`")[1] == target]
    return line


def test_the_comment_a_reviewer_reads(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(BEFORE)
    repo, base = pull_request_repo(tmp_path)
    run = run_pgstate(
        [
            "plan",
            "--desired",
            "desired",
            "--database-url",
            database.url,
            "--base",
            base,
            "--lint",
            "--format",
            "markdown",
        ],
        cwd=repo,
    )
    # Changes exist, one of them refused: 2, with the refusal shown. A lint error does not change the exit code.
    assert run.exit_code == 2, run.stderr
    comment = run.stdout
    lines = comment.splitlines()
    assert lines[0] == "### pgstate plan"
    # The summary first: add = the drift's index and the policy; change = the type and RLS; one refused.
    assert lines[2] == "**2 to add, 2 to change, 0 to destroy, 1 refused** · ❌ **lint: 2 errors, 2 warnings**"
    assert lines[4].startswith("⚠️ **1 step destroys data**") and "`--allow-destructive`" in lines[4]
    assert lines[5].startswith("🚫 **1 step is refused**: `apply` refuses the whole plan (exit 3)")

    found = sections(comment)
    assert list(found) == ["From this pull request", "Already different before this pull request", "Lint"]
    ours, before, lint = found.values()
    # The pull request's own steps: what changes, from -> to, and the data loss marked and in bold.
    column = line_of(ours, "public.orders.note")
    assert column.startswith("- ⚠️ **alter column type** `public.orders.note`: ")
    assert "change type json -> jsonb" in rendered(column) and "**destroys data**" in column
    assert "rewrites the table: ~100 rows" in rendered(column)
    assert "desired/orders.yaml:3:3" in column
    policy = line_of(ours, 'public.orders."Enable read access for all users"')
    assert "PERMISSIVE FOR SELECT TO public USING true" in rendered(policy)
    assert line_of(ours, "public.orders").startswith("- **enable rls** `public.orders`")
    # The refusal inside the plan, beside the steps that would run: what it would do, why not, what to do.
    refused = line_of(ours, "public.legacy_events")
    assert refused.startswith("- 🚫 **refused: retire table** `public.legacy_events`: drop the table")
    assert "Why: public.legacy_events is still in use: created_at has a row from" in rendered(refused)
    assert "hint: retire it once no row is newer than quiet_days" in rendered(refused)
    # What was already different before the pull request: the index the base declared and nobody built.
    assert [line.split("`")[1] for line in before.splitlines() if line.startswith("- ")] == [
        "public.orders_customer_idx"
    ]
    assert "orders_customer_idx" not in ours
    # Lint's findings, errors first, each with its rule, where, and the fix.
    errors = [line for line in lint.splitlines() if line.startswith("- ❌ **error**")]
    assert [line.split("`")[1] for line in errors] == ["destructive-change", "policy-always-true"]
    assert "desired/orders.yaml:9:5" in errors[1] and "USING is `true`" in errors[1]
    # Narrow: lists, no table; the SQL folded, the refused step named at its end and not in it.
    assert not any(line.startswith("|") for line in lines)
    assert "<table>" not in MarkdownIt("commonmark", {"html": True}).enable("table").render(comment)
    sql = comment.split("<details><summary>SQL (4 statements)</summary>")[1]
    assert 'ALTER COLUMN "note" TYPE jsonb' in sql and "DROP TABLE" not in sql
    assert "-- refused, not in this script: retire-table public.legacy_events" in sql

    # The same split for machines.
    run = run_pgstate(
        ["plan", "--desired", "desired", "--database-url", database.url, "--base", base, "--lint", "--format", "json"],
        cwd=repo,
    )
    document = json.loads(run.stdout)
    assert {step["target"]: step["since_base"] for step in document["steps"]} == {
        "public.orders.note": True,
        "public.orders_customer_idx": False,
        "public.orders": True,
        'public.orders."Enable read access for all users"': True,
    }
    (refusal,) = document["refusals"]
    assert (refusal["action"], refusal["target"], refusal["since_base"]) == (
        "retire-table",
        "public.legacy_events",
        True,
    )
    assert document["lint"]["summary"]["errors"] == 2

    # apply refuses the plan as before (exit 3), naming the refusal, and changes nothing.
    backups = str(tmp_path / "backups")
    args = ["apply", "--yes", "--allow-destructive", "--backup-dir", backups]
    run = run_pgstate([*args, "--desired", "desired", "--database-url", database.url], cwd=repo)
    assert run.exit_code == 3 and "public.legacy_events is still in use" in run.stderr, run.stderr
    assert database.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = 'orders'::regclass AND attname = 'note'"
    ) == [("json",)]
    assert database.query("SELECT to_regclass('orders_customer_idx')") == [(None,)]


def test_a_changed_index_and_what_a_type_change_moves_out_of_its_way_are_the_pull_requests(
    database: TestDatabase, tmp_path: Path
) -> None:
    """Steps the pull request's changes cannot go without count as its own: a replaced index's build, drop and
    rename, and a policy of another declaration dropped and created again around a type change."""
    database.execute(
        "CREATE TABLE t (id int PRIMARY KEY, a int, b text);"
        "CREATE INDEX t_b_idx ON t (b);"
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY own ON t FOR SELECT TO authenticated USING (a = 1);"
    )
    base_text = (
        "table: t\ncolumns:\n  a: {type: integer}\nindexes:\n  - {name: t_b_idx, columns: [b]}\n"
        "rls: {enabled: true}\npolicies:\n  - {name: own, command: select, roles: [authenticated], using: 'a = 1'}\n"
    )
    repo = tmp_path / "repo"
    (repo / "desired").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    base = commit(repo, {"t.yaml": base_text}, "t")
    commit(repo, {"t.yaml": base_text.replace("[b]", "[b, id]").replace("{type: integer}", "{type: bigint}")}, "pr")
    run = run_pgstate(
        ["plan", "--desired", "desired", "--database-url", database.url, "--base", base, "--format", "json"], cwd=repo
    )
    assert run.exit_code == 2, run.stderr
    steps = json.loads(run.stdout)["steps"]
    actions = {step["action"] for step in steps}
    assert {"drop-policy", "alter-column-type", "create-policy", "drop-index"} <= actions, steps
    assert [step["action"] for step in steps if not step["since_base"]] == []
    run = run_pgstate(
        ["plan", "--desired", "desired", "--database-url", database.url, "--base", base, "--format", "markdown"],
        cwd=repo,
    )
    # A replaced index and a policy created again are changes, not something destroyed and something added.
    assert run.stdout.splitlines()[2] == f"**0 to add, {len(steps)} to change, 0 to destroy**"
    found = sections(run.stdout)
    assert found["Already different before this pull request"].strip().startswith("_none")
    items = [line for line in found["From this pull request"].splitlines() if line.startswith("- ")]
    assert len(items) == len(steps)


def test_base_in_a_shallow_clone(database: TestDatabase, tmp_path: Path) -> None:
    """actions/checkout fetches one commit: --base names what is missing and how to fetch it; after the fetch
    plan.yml does (the base commit alone, one deep), the comment is whole."""
    database.execute(BEFORE)
    repo, base = pull_request_repo(tmp_path)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)], check=True)
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"

    run = run_pgstate(["plan", "--desired", "desired", "--database-url", database.url, "--base", base], cwd=clone)
    assert run.exit_code == 1
    message, hint = run.stderr.strip().splitlines()
    assert message == (
        f"pgstate: unknown git revision {base!r}: this clone is shallow (1 commit of history) and does not hold it"
    )
    assert "`git fetch --unshallow`" in hint and f"`git fetch --depth=1 origin {base}`" in hint
    assert "`fetch-depth: 0`" in hint and "Traceback" not in run.stderr
    run = run_pgstate(
        ["plan", "--desired", "desired", "--database-url", database.url, "--base", "origin/main~1"], cwd=clone
    )
    assert run.exit_code == 1 and "this clone is shallow" in run.stderr and "origin COMMIT`" in run.stderr

    git(clone, "fetch", "--no-tags", "--depth=1", "origin", base)  # as plan.yml's "Fetch the base commit"
    run = run_pgstate(
        ["plan", "--desired", "desired", "--database-url", database.url, "--base", base, "--format", "markdown"],
        cwd=clone,
    )
    assert run.exit_code == 2, run.stderr
    assert "- 🚫 **refused: retire table** `public.legacy_events`" in sections(run.stdout)["From this pull request"]


def test_an_unknown_revision_in_a_full_clone_says_nothing_of_shallow(database: TestDatabase, tmp_path: Path) -> None:
    repo, _ = pull_request_repo(tmp_path)
    run = run_pgstate(["plan", "--desired", "desired", "--database-url", database.url, "--base", "nope"], cwd=repo)
    assert run.exit_code == 1
    assert "unknown git revision 'nope'" in run.stderr and "shallow" not in run.stderr


@pytest.mark.parametrize("colour", ["piped", "terminal", "NO_COLOR"])
def test_text_shows_refusals_and_colours_only_a_terminal(database: TestDatabase, tmp_path: Path, colour: str) -> None:
    database.execute(BEFORE)
    repo, _ = pull_request_repo(tmp_path)
    env = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TERM": "xterm-256color"}
    if colour == "terminal":
        env["FORCE_COLOR"] = "1"  # rich's own rule: styled as on a terminal
    elif colour == "NO_COLOR":
        env.update(FORCE_COLOR="1", NO_COLOR="1")  # NO_COLOR wins
    run = run_pgstate(["plan", "--desired", "desired", "--database-url", database.url], cwd=repo, env=env)
    assert run.exit_code == 2, run.stderr
    plain = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout)
    assert plain.startswith("Plan: 4 step(s), 1 refused\n\n1. ")
    refusals = plain.split("\nRefused: ")[1]
    assert refusals.startswith("apply refuses the whole plan (exit 3) until these are resolved")
    assert "\nR1. retire-table public.legacy_events\n" in refusals
    assert "\n   refused: public.legacy_events is still in use: created_at has a row from" in refusals
    if colour == "terminal":
        assert "\x1b[" in run.stdout
        assert "\x1b[1;31mretire-table\x1b[0m" in run.stdout  # what destroys data stands out
    else:
        assert "\x1b" not in run.stdout


def test_a_change_blocked_by_a_dependent_is_refused_beside_the_rest(database: TestDatabase, tmp_path: Path) -> None:
    """A trigger pgstate cannot re-create blocks the type change of its column: that step is refused, the index
    of the same file is still planned, and apply refuses the whole plan as before."""
    database.execute(
        "CREATE TABLE t (id int PRIMARY KEY, a int, b text);"
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';"
        "CREATE TRIGGER tg BEFORE UPDATE OF a ON t FOR EACH ROW EXECUTE FUNCTION touch();"
    )
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "t.yaml").write_text(
        "table: t\ncolumns:\n  a: {type: bigint}\nindexes:\n  - {name: t_b_idx, columns: [b]}\n"
    )
    common = ["--desired", str(desired), "--database-url", database.url]
    run = run_pgstate(["plan", *common, "--format", "json"])
    assert run.exit_code == 2, run.stderr
    document = json.loads(run.stdout)
    assert [step["target"] for step in document["steps"]] == ["public.t_b_idx"]
    (refusal,) = document["refusals"]
    assert (refusal["action"], refusal["target"]) == ("alter-column-type", "public.t.a")
    assert "trigger tg on table t (depends on public.t.a)" in refusal["message"]
    run = run_pgstate(["apply", "--yes", "--backup-dir", str(tmp_path / "backups"), *common])
    assert run.exit_code == 3 and "trigger tg on table t" in run.stderr, run.stderr
    assert database.query("SELECT to_regclass('t_b_idx')") == [(None,)]
