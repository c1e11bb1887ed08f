"""What a rollback adds to the apply of a recorded pre-run state: steps that give back what only the run's backup
holds. They are steps of the rollback's plan like any other: shown before the confirmation, run after it, each
with its status in the record.

* ``restore-table``: a table the run retired, replayed from its verified dump before the other steps (psql, one
  transaction of its own), dropped again if a later step fails. The other steps cannot be planned against a
  table that is not there yet: they are planned without the restored tables' documents, and planned again once
  they are back, when the new plan must hold the steps that were confirmed, and beyond them only steps on the
  restored tables' own objects that are in the way of a confirmed one (recorded and said before they run).
* ``restore-values``: the values a lossy type change converted, set back from the dump by primary key, inside
  the transaction, after the type is changed back; the table must still hold exactly what the run left it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from ..backup.content import TableContent, table_content
from ..backup.values import ValueRestore
from ..errors import PgstateError, Refused
from ..planning.plan import Plan
from ..planning.steps import Action, Phase, Step
from ..source.documents import SpecSet


@dataclass(frozen=True)
class Restoration:
    run_id: int
    tables: tuple[Step, ...] = ()  # restore-table steps
    values: tuple[Step, ...] = ()  # restore-values steps
    unchanged: dict[str, TableContent] = field(default_factory=dict)  # table -> what the run left in it
    full: SpecSet | None = None  # the whole pre-run state, with the restored tables' documents

    @property
    def since(self) -> tuple[str, str]:
        """How the executor names what ``unchanged`` holds, and what a difference means."""
        return (f"at the end of run {self.run_id} it held", f"run {self.run_id}; its original values not restored")

    def expected(self, plan: Plan) -> dict[str, TableContent]:
        """What the tables whose values this plan gives back must hold (what the run left in them)."""
        tables = {str(step.table) for step in plan.steps if step.action is Action.RESTORE_VALUES}
        return {table: content for table, content in self.unchanged.items() if table in tables}

    def check_unchanged(self, conn: psycopg.Connection[Any], plan: Plan) -> None:
        """Before anything is confirmed: each table whose values come back holds what the run left (the
        transaction checks it again under its lock)."""
        expected_of = self.expected(plan)
        with conn.cursor() as cur:
            for step in self.values:
                expected = expected_of.get(str(step.table))
                if expected is None or step.table is None:
                    continue
                now = table_content(cur, step.table)
                if now != expected:
                    raise Refused(
                        f"{step.table} changed since run {self.run_id} converted it ({now.describe()}, the run left"
                        f" {expected.describe()}): its original values can no longer be matched to its rows safely",
                        hint="change the types back by editing the desired files and applying; the original values"
                        " are in the run's backup",
                    )

    def merged(self, plan: Plan) -> Plan:
        """The plan with the restore steps in place: tables first, each table's values right after the last
        type change of that table (or at the end of the transaction)."""
        steps = list(self.tables) + list(plan.steps)
        for restore in self.values:
            assert isinstance(restore.payload, ValueRestore)
            columns = set(restore.payload.columns)
            changes = [
                n
                for n, step in enumerate(steps)
                if step.action is Action.ALTER_COLUMN_TYPE
                and step.table == restore.table
                and step.subject.parts[2:3]
                and step.subject.parts[2] in columns
            ]
            if not changes:
                # The converted columns have their types back already (a second rollback): their values too.
                continue
            transaction = [n for n, step in enumerate(steps) if step.phase is Phase.TRANSACTION]
            at = (changes[-1] + 1) if changes else ((transaction[-1] + 1) if transaction else len(steps))
            steps.insert(at, restore)
        # In phase order: the table restores run first, the values inside the transaction.
        steps.sort(key=lambda step: step.phase.value)
        return replace(plan, steps=tuple(steps))

    def replanned(self, confirmed: Plan, fresh: Plan) -> tuple[Plan, list[Step]]:
        """After the tables are back: the plan that runs, and the steps it has beyond the confirmed ones.

        The restored tables came back as they were before the run, so they need no steps of their own, except
        where one of their objects is in the way of a confirmed step (a policy of a restored table that uses a
        column whose type goes back is dropped and created again as it was): those, on the restored tables
        only, are added. Any other difference from the confirmed plan stops the rollback."""
        own = {step.id for step in (*self.tables, *self.values)}
        restored = {step.table for step in self.tables}
        wanted = {step.id for step in confirmed.steps if step.id not in own}
        found = {step.id for step in fresh.steps}
        extra = [step for step in fresh.steps if step.id not in wanted]
        foreign = [step for step in extra if step.table not in restored]
        gone = [i for i in wanted if i not in found]
        if foreign or gone:
            raise PgstateError(
                "with the restored tables back, the plan is not the one confirmed (new steps: "
                f"{', '.join(str(s.id) for s in foreign) or 'none'}; steps no longer needed:"
                f" {', '.join(str(i) for i in sorted(gone)) or 'none'}); the restored tables were dropped again",
                hint="run the rollback again to see and confirm the new plan",
            )
        merged = self.merged(fresh)
        return replace(merged, steps=tuple(s for s in merged.steps if s.phase is not Phase.RESTORE)), extra
