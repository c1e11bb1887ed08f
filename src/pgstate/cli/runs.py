"""The verbs of the recorded runs: ``history`` lists them or shows one, ``rollback`` returns the managed objects to
their state before one (and restores the data it dumped)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import ExitCode, PgstateError
from .common import change_options, changing_target, confirmation, connect_configured, say_to
from .fleet import refuse_standby_target


def history(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..history import runs
    from ..report.history import run_text, runs_text

    _, conn = connect_configured(args, secrets)
    with conn:
        found = runs.read_runs(conn, args.run)
    if args.run is not None and not found:
        raise PgstateError(f"there is no run {args.run} in pgstate.runs", hint="list them with `pgstate history`")
    if args.format == "json":
        payload: Any = [
            {**run.summary(), "plan": run.plan, "steps": run.steps} if args.run is not None else run.summary()
            for run in found
        ]
        sys.stdout.write(
            json.dumps(payload[0] if args.run is not None else payload, indent=2, sort_keys=True, default=str) + "\n"
        )
    else:
        from ..report.terminal import console_for, write

        write(console_for(sys.stdout), run_text(found[0]) if args.run is not None else runs_text(found))
    return ExitCode.OK


def rollback(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..history.rollback import RollbackOptions, rollback

    refuse_standby_target(args, "rollback")
    url = changing_target(args, secrets, "rollback")
    options = RollbackOptions(change_options(args), force=args.force)
    outcome = rollback(url, args.run, options, say=say_to(args), confirm=confirmation(args))
    if args.format == "json":
        result = {
            "run_id": outcome.run_id,
            "rollback_of": args.run,
            "status": "applied" if outcome.run_id else "no changes",
            "plan": outcome.plan.to_json(None),
        }
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    elif outcome.run_id is None:
        print(f"No changes: the managed objects are as they were before run {args.run}.")
    else:
        print(f"Rolled back run {args.run} as run {outcome.run_id} ({len(outcome.plan.steps)} step(s)); verified.")
    return outcome.exit_code
