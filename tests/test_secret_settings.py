"""Settings whose names look secret (Supabase's app.settings.jwt_secret) are set, but their values never appear
in a plan of any format, a drift report or the run's record of its plan."""

from __future__ import annotations

from pathlib import Path

from pgharness import TestDatabase, run_pgstate_inprocess, write_desired

SECRET = "do-not-print-me-0xC0FFEE"
DESIRED = (
    "database:\n  settings:\n    app.settings.jwt_secret: " + SECRET + "\n    app.settings.region: eu-1\n",
    "role: authenticated\nsettings:\n  app.api_token: " + SECRET + "\n",
)


def pgstate(db: TestDatabase, desired: Path, *args: str) -> tuple[int, str]:
    run = run_pgstate_inprocess([*args, "--desired", str(desired), "--database-url", db.url])
    return run.exit_code, run.stdout + run.stderr


def test_secret_setting_values_are_never_shown(database: TestDatabase, tmp_path: Path) -> None:
    desired = write_desired(tmp_path, *DESIRED)
    outputs = []
    for fmt in ("text", "markdown", "json", "sql"):
        code, out = pgstate(database, desired, "plan", "--format", fmt)
        assert code == 2, out
        outputs.append(out)
    assert "eu-1" in outputs[0]  # an ordinary setting is shown
    assert "(secret: not shown)" in outputs[0] and "(secret: not shown)" in outputs[3]
    code, out = pgstate(database, desired, "apply", "--yes")
    assert code == 0, out
    outputs.append(out)
    # Set for real: the server has the value.
    with database.connect() as conn:
        conn.execute("SET ROLE authenticated")
        assert conn.execute("SELECT current_setting('app.settings.jwt_secret')").fetchone() == (SECRET,)
    database.execute(f"ALTER DATABASE \"{database.name}\" SET app.settings.jwt_secret = 'other-{SECRET}'")
    for fmt in ("text", "json", "markdown", "prometheus"):
        code, out = pgstate(database, desired, "drift", "--format", fmt)
        assert code == 2, out
        outputs.append(out)
    assert all(SECRET not in text for text in outputs), next(t for t in outputs if SECRET in t)
    [(plan,)] = database.query("SELECT plan::text FROM pgstate.runs")
    assert SECRET not in plan
