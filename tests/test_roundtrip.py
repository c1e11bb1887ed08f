"""The round-trip laws, over generated examples: for every kind, on both servers, hypothesis draws a live state
(SQL) and a desired state (YAML) from what the kind's part of the format can say, and each example must keep
the laws of tests/laws.py (export plans nothing; apply converges; rollback restores the catalog and the rows).

PGSTATE_EXAMPLES sets the examples per kind and server (default 5; `make fuzz` runs many more). The draws are
derandomised, so that a red CI is reproducible; PGSTATE_RANDOM=1 explores new ones (failures are kept in
.hypothesis/ and replayed first)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from generators import STRATEGIES, Example
from laws import AUTHZ_HAZARDS, Before, apply_converges, export_plans_nothing, plan_json, rollback_restores
from pgharness import fresh_database
from pgstate.servers.local import LocalServer

EXAMPLES = int(os.environ.get("PGSTATE_EXAMPLES", "5"))
EXPLORE = os.environ.get("PGSTATE_RANDOM") == "1"


def check_laws(server: LocalServer, kind: str, example: Example) -> None:
    note(str(example))
    with fresh_database(server, f"gen_{kind}") as db, tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        db.execute(example.before.replace("{database}", '"' + db.name + '"'))
        desired = work / "desired"
        desired.mkdir()
        (desired / "example.yaml").write_text(example.desired)

        export_plans_nothing(db, desired, work / "exported")
        before = Before.of(db)
        code, plan, err = plan_json(db, desired)
        assert code in (0, 2), err
        destructive = any("data-loss" in step["hazards"] for step in plan["steps"])
        authz = any(AUTHZ_HAZARDS & set(step["hazards"]) for step in plan["steps"])
        apply_converges(db, desired, work / "backups", destructive, authz=authz)
        if plan["steps"]:
            rollback_restores(db, desired, work / "backups", before)


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
def test_round_trip(pg_server: LocalServer, kind: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,  # each example runs the CLI against a server: seconds, not milliseconds
        derandomize=not EXPLORE,
        database=None if not EXPLORE else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(st.data())
    def laws(data: st.DataObject) -> None:
        check_laws(pg_server, kind, data.draw(STRATEGIES[kind], label=kind))

    laws()
