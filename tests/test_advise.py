"""`pgstate advise` on real servers that collect a workload (pg_stat_statements preloaded): index candidates verified
with hypopg on PostgreSQL 15 (Debian's postgresql-15-hypopg 1.3.1) and 18 (hypopg 1.4.2 that `make test` builds with
the wheel's PGXS, scripts/build_hypopg.py), listed unverified where it is missing; unused and redundant indexes
(hidden with hypopg_hide_index where hypopg is 1.4, so that none a top statement needs is proposed); json read as
JSON; per-row calls in policies planned as the serving role; settings; and the proposals written back into desired
files that keep their comments and plan to exactly the proposals."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgharness import (
    HYPOPG15_CONTROL,
    HYPOPG18_MISSING,
    PG15_MISSING,
    SUPABASE_EMULATION,
    TestDatabase,
    add_extension_prefix,
    hypopg18_prefix,
    pgstate_json,
    run_pgstate_inprocess,
    server_bin_dir,
)
from pgstate.advice.advisor import Options, advise
from pgstate.advice.explain import Persona
from pgstate.advice.proposals import Advice, Proposal
from pgstate.servers.local import LocalServer, ensure_server, stop_server

TEMPLATE = "pgstate_advise_template"
HYPOPG18 = hypopg18_prefix()

APP = """
CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL, "isPremium" boolean NOT NULL, credits int NOT NULL,
                     "resumeData" json);
INSERT INTO "User" (email, "isPremium", credits, "resumeData")
SELECT 'u' || g || '@example.com', g % 10 = 0, g % 1000, json_build_object('skills', 'skill' || g % 50)
FROM generate_series(1, 40000) g;
CREATE INDEX "User_credits_idx" ON "User" (credits);
CREATE INDEX "User_credits_email_idx" ON "User" (credits, email);
CREATE UNIQUE INDEX "User_email_key" ON "User" (email);
CREATE TABLE "InterviewSession" (id serial PRIMARY KEY, "userId" int NOT NULL, "createdAt" timestamptz NOT NULL,
                                 title text);
INSERT INTO "InterviewSession" ("userId", "createdAt", title)
SELECT g % 4000, now() - g * interval '1 minute', 'session ' || g FROM generate_series(1, 60000) g;
CREATE TABLE notes (id serial PRIMARY KEY, user_id uuid NOT NULL, body text);
INSERT INTO notes (user_id, body)
SELECT ('00000000-0000-0000-0000-' || lpad((g % 500)::text, 12, '0'))::uuid, 'note ' || g
FROM generate_series(1, 20000) g;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own notes" ON notes FOR SELECT TO authenticated USING (user_id = auth.uid());
GRANT SELECT ON notes TO authenticated;
ANALYZE;
"""
USER_ID = "00000000-0000-0000-0000-000000000007"
CLAIMS = json.dumps({"sub": USER_ID, "role": "authenticated"})


@pytest.fixture(scope="module", params=["pg18", "pg15"])
def advise_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server that collects a workload, with a template of the app above."""
    bin_dir = server_bin_dir(request.param)
    if bin_dir is None:
        pytest.skip(PG15_MISSING)
    data = tmp_path_factory.mktemp(f"advise-{request.param}") / "data"
    server = ensure_server(bin_dir, data, fast=True, preload=("pg_stat_statements",))
    try:
        if server.major >= 18 and HYPOPG18 is not None:
            add_extension_prefix(server, HYPOPG18)
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        with psycopg.connect(server.url(TEMPLATE), autocommit=True) as conn:
            conn.execute(SUPABASE_EMULATION.encode())
            conn.execute(APP.encode())
            conn.execute("CREATE EXTENSION pg_stat_statements")
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def app(advise_server: LocalServer, request: pytest.FixtureRequest) -> Iterator[TestDatabase]:
    """A fresh copy of the app, its workload statistics its own (pg_stat_statements keeps them per database)."""
    name = f"a_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(advise_server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(TEMPLATE)))
    try:
        yield TestDatabase(advise_server.url(name), name, advise_server, advise_server.major)
    finally:
        with psycopg.connect(advise_server.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def can_hide(db: TestDatabase) -> bool:
    """Whether its hypopg has hypopg_hide_index (1.4+: the one built for 18, not Debian bookworm's 1.3.1)."""
    return db.major >= 18 and HYPOPG18 is not None


def has_hypopg(db: TestDatabase) -> bool:
    """Whether the server offers hypopg (the advisor creates it in its rolled-back transaction)."""
    return HYPOPG15_CONTROL.exists() if db.major == 15 else HYPOPG18 is not None


def run_workload(db: TestDatabase, *, as_role: bool = False, times: int = 5) -> None:
    with db.connect() as conn:
        for number in range(times):
            conn.execute(
                'SELECT id, title FROM "InterviewSession" WHERE "userId" = %s ORDER BY "createdAt" DESC LIMIT 20',
                [number],
            )
            conn.execute("""SELECT id FROM "User" WHERE "resumeData"->>'skills' = %s""", [f"skill{number}"])
            if as_role:
                with conn.transaction():
                    conn.execute("SET LOCAL ROLE authenticated")
                    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", [CLAIMS])
                    conn.execute("SELECT body FROM notes WHERE body LIKE %s", [f"note {number}%"])


def run_advise(db: TestDatabase, **options: Any) -> Advice:
    with db.connect() as conn:
        return advise(conn, Options(**options))


def of_kind(advice: Advice, kind: str) -> list[Proposal]:
    return [proposal for proposal in advice.proposals if proposal.kind == kind]


def session_index(advice: Advice) -> Proposal:
    found = [p for p in of_kind(advice, "index") if p.table is not None and p.table.name == "InterviewSession"]
    assert found, [p.title for p in advice.proposals]
    return found[0]


def test_a_composite_index_for_a_lookup_newest_first(app: TestDatabase) -> None:
    run_workload(app)
    advice = run_advise(app)
    proposal = session_index(advice)
    assert proposal.change["index"]["columns"][:2] == ["userId", {"column": "createdAt", "order": "desc"}]
    evidence = proposal.evidence[0]
    assert "InterviewSession" in evidence.statement and evidence.calls == 5
    if has_hypopg(app):
        assert advice.hypopg is not None and proposal.verified
        assert evidence.cost_before is not None and evidence.cost_after is not None
        assert evidence.cost_after < evidence.cost_before / 2  # the estimate, with the hypothetical index
    else:
        assert advice.hypopg is None and not proposal.verified
    # Nothing stays: no index, no hypopg, no setting.
    assert app.query("SELECT count(*) FROM pg_indexes WHERE tablename = 'InterviewSession'") == [(1,)]
    assert app.query("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'") == [(0,)]


def test_without_hypopg_candidates_are_unverified_and_the_way_to_install_it_is_said(app: TestDatabase) -> None:
    if app.major < 18:
        pytest.skip("on 15 hypopg sits in the server's own directory: only 18's extension_control_path can hide it")
    # This database's sessions look for extensions in the server's own directory only, where the wheel has none.
    with app.connect() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET extension_control_path = '$system'").format(sql.Identifier(app.name))
        )
    run_workload(app)
    advice = run_advise(app)
    proposal = session_index(advice)
    assert advice.hypopg is None and not proposal.verified
    assert proposal.evidence[0].cost_before is None and "unverified (no hypopg)" in proposal.reason
    assert any("hypopg" in note and "apt install postgresql-NN-hypopg" in note for note in advice.notes)


def test_json_read_as_json_becomes_jsonb(app: TestDatabase) -> None:
    run_workload(app)
    (proposal,) = of_kind(run_advise(app), "jsonb")
    assert proposal.change == {"column": "resumeData", "type": "jsonb"}
    assert "resumeData" in proposal.evidence[0].statement


def test_unused_and_redundant_indexes_but_never_a_constraint_index(app: TestDatabase) -> None:
    run_workload(app)
    drops = {p.change["drop_index"]: p for p in of_kind(run_advise(app), "drop-index")}
    assert set(drops) == {"User_credits_idx", "User_credits_email_idx"}  # neither scanned; the pkeys are kept
    assert "not scanned" in drops["User_credits_idx"].reason
    assert not drops["User_credits_idx"].verified  # statistics of minutes: not a week of the workload
    if can_hide(app):  # and no top statement plans a read of "User" through them
        assert all("hidden with hypopg, no top statement's estimate gets worse" in p.reason for p in drops.values())


def test_a_redundant_index_in_use_is_named_for_its_wider_twin(app: TestDatabase) -> None:
    """Both indexes scanned: the one the other starts with is redundant (the wider one serves its lookups)."""
    with app.connect() as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        for _ in range(3):
            conn.execute('SELECT id FROM "User" WHERE credits = 3')  # User_credits_idx
            conn.execute('SELECT credits, email FROM "User" WHERE credits < 3 ORDER BY credits, email')  # the wider
        conn.execute("SELECT pg_stat_force_next_flush()")
    scanned = app.query("SELECT indexrelname FROM pg_stat_user_indexes WHERE idx_scan > 0 AND relname = 'User'")
    assert {name for (name,) in scanned} >= {"User_credits_idx", "User_credits_email_idx"}
    advice = run_advise(app)
    drops = {p.change["drop_index"]: p for p in of_kind(advice, "drop-index")}
    if not can_hide(app):
        assert set(drops) == {"User_credits_idx"}
        assert drops["User_credits_idx"].reason.startswith(
            "redundant: User_credits_email_idx starts with the same columns"
        )
        return
    # Hidden, the range read sorted by (credits, email) is estimated dearer: the planner prefers the narrow index
    # and a sort there. Kept, and the note says which statement and by how much.
    assert drops == {}
    (note,) = [note for note in advice.notes if note.startswith("kept User_credits_idx")]
    assert "redundant: User_credits_email_idx" in note and "WHERE credits < $1 ORDER BY credits, email" in note


def test_hidden_with_hypopg_an_unused_index_a_top_statement_needs_is_kept(app: TestDatabase) -> None:
    """Not scanned since the statistics were reset (it is new), but the workload's lookup would use it."""
    if app.major < 18:
        pytest.skip("hypopg_hide_index came with hypopg 1.4: Debian bookworm's postgresql-15-hypopg is 1.3.1")
    if not can_hide(app):
        pytest.skip(HYPOPG18_MISSING)
    run_workload(app)
    app.execute(
        'CREATE INDEX "InterviewSession_userId_createdAt_idx" ON "InterviewSession" ("userId", "createdAt" DESC)'
    )
    app.execute('ANALYZE "InterviewSession"')
    advice = run_advise(app)
    drops = {p.change["drop_index"] for p in of_kind(advice, "drop-index")}
    assert "InterviewSession_userId_createdAt_idx" not in drops and "User_credits_idx" in drops
    (note,) = [note for note in advice.notes if note.startswith("kept InterviewSession_userId_createdAt_idx")]
    assert "not scanned" in note and 'FROM "InterviewSession" WHERE "userId" = $1' in note
    assert [p for p in of_kind(advice, "index") if p.table is not None and p.table.name == "InterviewSession"] == []
    assert app.query("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'") == [(0,)]


def test_policies_are_planned_as_the_serving_role(app: TestDatabase) -> None:
    run_workload(app, as_role=True)
    as_owner = run_advise(app)
    assert of_kind(as_owner, "rls") == []  # the owner bypasses RLS: the policy is not in its plans
    as_user = run_advise(app, persona=Persona("authenticated", CLAIMS))
    (proposal,) = of_kind(as_user, "rls")
    assert proposal.change["policy"] == "own notes"
    assert proposal.change["using"] == "(user_id = (select auth.uid()))"
    # and the column the policy compares, without a leading index, gets one
    (index,) = [p for p in of_kind(as_user, "index") if p.table is not None and p.table.name == "notes"]
    assert index.change["index"]["columns"][0] == "user_id"
    assert "the column that policy 'own notes' compares" in index.reason
    assert app.query("SELECT count(*) FROM pg_policy WHERE polname = 'own notes'") == [(1,)]  # unchanged


def test_settings_slow_query_log_and_serving_roles_timeouts(app: TestDatabase) -> None:
    titles = [p.title for p in of_kind(run_advise(app), "setting")]
    assert "log slow statements (log_min_duration_statement = 1s)" in titles
    assert "statement_timeout 8s for role authenticated" in titles
    assert not any("preload" in title for title in titles)  # preloaded on this server


def test_a_statement_the_server_cannot_plan_is_reported_not_fatal(app: TestDatabase) -> None:
    run_workload(app, times=1)
    with app.connect() as conn:
        conn.execute("CREATE TABLE gone (id int)")
        conn.execute("SELECT * FROM gone WHERE id = %s", [1])
        conn.execute("DROP TABLE gone")
    advice = run_advise(app)
    assert any("gone" in text and "does not exist" in why for text, why in advice.unplannable)
    session_index(advice)


DESIRED_USER = """\
# yaml-language-server: $schema=../schemas/desired.schema.json
# The users table, as the team keeps it.
table: User
columns:
  email: {type: text}   # kept as is
"""


def test_write_back_keeps_comments_validates_and_plans_exactly_the_proposals(app: TestDatabase, tmp_path: Path) -> None:
    run_workload(app)
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "user.yaml").write_text(DESIRED_USER)
    code, before, _ = pgstate_json(app, desired, "plan")
    assert code == 0, before
    result = run_pgstate_inprocess(
        ["advise", "--write", "--desired", str(desired), "--database-url", app.url, "--format", "json"]
    )
    assert result.exit_code == 2, result.stderr
    advice = json.loads(result.stdout)
    written = (desired / "user.yaml").read_text()
    assert written.startswith(DESIRED_USER.splitlines()[0]) and "# The users table, as the team keeps it." in written
    assert "# kept as is" in written and "resumeData: {type: jsonb}" in written and "# advise:" in written
    assert (desired / "InterviewSession.yaml").exists()
    assert run_pgstate_inprocess(["validate", "--desired", str(desired)]).exit_code == 0
    code, plan, _ = pgstate_json(app, desired, "plan")
    assert code == 2
    steps = sorted(step["action"] for step in plan["steps"])
    expected = []  # what each proposal becomes; a drop is not written (the table does not set prune_indexes)
    for proposal in advice["proposals"]:
        change = proposal["change"]
        if proposal["kind"] == "index":
            expected.append("build-index")
        elif proposal["kind"] == "jsonb":
            expected.append("alter-column-type")
        elif "database_setting" in change:
            expected.append("set-setting")
        elif "role_setting" in change:
            expected.append("set-role-setting")
    assert steps == sorted(expected) and "build-index" in steps and "alter-column-type" in steps
    assert "not written: drop index User_credits_idx: prune_indexes is not set" in result.stderr


def git_repo(tmp_path: Path) -> tuple[Any, Path]:
    import git

    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test Team")
        config.set_value("user", "email", "team@example.com")
    desired = tmp_path / "repo" / "desired"
    desired.mkdir()
    (desired / "user.yaml").write_text(DESIRED_USER)
    (tmp_path / "repo" / "README.md").write_text("the app\n")
    repo.index.add(["desired/user.yaml", "README.md"])
    repo.index.commit("the app's desired state")
    return repo, desired


def test_branch_commits_only_the_proposals_on_a_new_branch(app: TestDatabase, tmp_path: Path) -> None:
    run_workload(app)
    repo, desired = git_repo(tmp_path)
    (tmp_path / "repo" / "README.md").write_text("the app, edited and staged\n")
    repo.index.add(["README.md"])  # staged outside desired/: must not ride along
    start = repo.head.commit
    run = run_pgstate_inprocess(
        ["advise", "--branch", "advise/first", "--desired", str(desired), "--database-url", app.url]
    )
    assert run.exit_code == 2, run.stderr
    assert repo.active_branch.name == "advise/first" and repo.heads.main.commit == start
    commit = repo.head.commit
    assert commit.parents == (start,) and commit.summary.startswith("pgstate advise: ")
    wrote = sorted(line.split("/repo/")[1] for line in run.stderr.splitlines() if line.startswith("wrote "))
    assert sorted(commit.stats.files) == wrote and "desired/user.yaml" in wrote and "README.md" not in wrote
    assert "# advise:" in (commit.tree / "desired/user.yaml").data_stream.read().decode()
    assert not repo.is_dirty(path="desired") and "README.md" in [d.a_path for d in repo.index.diff("HEAD")]
    assert f"committed {commit.hexsha[:12]} on branch advise/first" in run.stderr
    assert run_pgstate_inprocess(["validate", "--desired", str(desired)]).exit_code == 0


def test_branch_is_refused_before_writing_on_uncommitted_changes_or_an_existing_branch(
    app: TestDatabase, tmp_path: Path
) -> None:
    run_workload(app)
    repo, desired = git_repo(tmp_path)
    repo.create_head("taken")
    taken = run_pgstate_inprocess(["advise", "--branch", "taken", "--desired", str(desired), "--database-url", app.url])
    assert taken.exit_code == 1 and "the branch taken already exists" in taken.stderr
    invalid = run_pgstate_inprocess(
        ["advise", "--branch", "a..b", "--desired", str(desired), "--database-url", app.url]
    )
    assert invalid.exit_code == 1 and "'a..b' is not a valid git branch name" in invalid.stderr
    (desired / "user.yaml").write_text(DESIRED_USER + "# a change in progress\n")
    dirty = run_pgstate_inprocess(["advise", "--branch", "new", "--desired", str(desired), "--database-url", app.url])
    assert dirty.exit_code == 1 and "has changes that are not committed" in dirty.stderr
    assert (desired / "user.yaml").read_text() == DESIRED_USER + "# a change in progress\n"
    assert sorted(path.name for path in desired.iterdir()) == ["user.yaml"]
    assert [head.name for head in repo.heads] == ["main", "taken"] and repo.active_branch.name == "main"


def test_markdown_for_a_pull_request_and_text_for_people(app: TestDatabase) -> None:
    run_workload(app)
    markdown = run_pgstate_inprocess(["advise", "--database-url", app.url, "--format", "markdown"])
    assert markdown.exit_code == 2, markdown.stderr
    assert markdown.stdout.startswith("## pgstate advise") and "### 1. index:" in markdown.stdout
    assert '| `SELECT id, title FROM "InterviewSession" WHERE "userId" = $1' in markdown.stdout
    text = run_pgstate_inprocess(["advise", "--database-url", app.url])
    assert text.exit_code == 2 and "1. index: CREATE INDEX" in text.stdout and "why: compares" in text.stdout


def test_claims_are_set_as_json_and_one_setting_per_claim(app: TestDatabase) -> None:
    """Older Supabase projects' auth.uid() reads request.jwt.claim.sub: planned as that user too, not as nobody."""
    with app.connect() as conn, conn.transaction(force_rollback=True):
        Persona("authenticated", json.dumps({"sub": USER_ID, "aal": 1, "app": {"x": 1}})).set_claims(conn)
        row = conn.execute(
            "SELECT current_setting('request.jwt.claims')::json->>'sub', current_setting('request.jwt.claim.sub'),"
            " current_setting('request.jwt.claim.aal'), current_setting('request.jwt.claim.app', true)"
        ).fetchone()
    assert row == (USER_ID, USER_ID, "1", None)


def test_claims_that_are_not_json_are_refused_before_connecting(app: TestDatabase) -> None:
    run = run_pgstate_inprocess(["advise", "--database-url", app.url, "--role", "authenticated", "--claims", "{sub"])
    assert run.exit_code == 1 and "--claims is not JSON" in run.stderr and "Traceback" not in run.stderr


def test_a_lookup_by_a_unique_key_needs_no_index_and_the_tools_own_statements_are_not_the_workload(
    app: TestDatabase,
) -> None:
    with app.connect() as conn:
        for number in range(5):
            conn.execute(
                'SELECT id FROM "User" WHERE "isPremium" = %s AND email = %s', [True, f"u{number}@example.com"]
            )
            conn.execute("SELECT set_config('request.jwt.claims', %s, false)", ["{}"])
    advice = run_advise(app)
    assert [p.title for p in of_kind(advice, "index") if p.table is not None and p.table.name == "User"] == []
    assert advice.statements == 1  # the lookup; not set_config, not the advisor's own reads


WORKLOAD = """\
-- a user's sessions, newest first
SELECT id, title FROM "InterviewSession" WHERE "userId" = 7 ORDER BY "createdAt" DESC LIMIT 20;
SELECT id FROM "User" WHERE "resumeData"->>'skills' = 'skill3';
"""


def test_prove_measures_the_proposals_on_a_copy_and_leaves_the_database_alone(
    app: TestDatabase, tmp_path: Path
) -> None:
    run_workload(app)
    desired = tmp_path / "desired"
    desired.mkdir()
    workload = tmp_path / "workload.sql"
    workload.write_text(WORKLOAD)
    databases = app.query("SELECT count(*) FROM pg_database")
    run = run_pgstate_inprocess(
        ["advise", "--prove", "--workload", str(workload), "--rounds", "2", "--desired", str(desired),
         "--database-url", app.url]
    )  # fmt: skip
    assert run.exit_code == 2, run.stderr
    lines = run.stdout.split("measured on a copy, 2 rounds, medians:\n")[1].splitlines()
    assert len(lines) == 2 and '"InterviewSession"' in lines[0] and "ms ->" in lines[0] and "x)" in lines[0]
    assert app.query("SELECT count(*) FROM pg_database") == databases  # the copy is gone
    assert app.query("SELECT count(*) FROM pg_indexes WHERE tablename = 'InterviewSession'") == [(1,)]
    assert app.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attname = 'resumeData'") == [
        ("json",)
    ]
    assert list(desired.iterdir()) == []  # the proposals went into a copy of the desired files


def test_prove_is_refused_on_the_configured_target_unless_forced(
    app: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload = tmp_path / "workload.sql"
    workload.write_text(WORKLOAD)
    monkeypatch.setenv("DATABASE_URL", app.url)
    monkeypatch.delenv("PGSTATE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    run = run_pgstate_inprocess(["advise", "--prove", "--workload", str(workload), "--desired", str(tmp_path)])
    assert run.exit_code == 3 and "--prove on the database $DATABASE_URL names" in run.stderr
    missing = run_pgstate_inprocess(["advise", "--prove", "--database-url", app.url, "--desired", str(tmp_path)])
    assert missing.exit_code == 1 and "--prove needs --workload FILE" in missing.stderr
