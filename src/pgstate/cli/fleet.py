"""The fleet's side of the command line: the ``targets`` and ``fleet-report`` verbs, the result file a fleet job
writes (``--result``), and the primary a standby target's plans parse on."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from typing import Any

import psycopg

from ..errors import ExitCode, PgstateError
from ..fleet.results import DRIFT, FAILED, IN_SYNC, REFUSED, TargetResult, finding_item, step_item, write_result
from ..fleet.targets import in_wave, primary_of, targets_of

GITHUB_MATRIX_LIMIT = 256  # jobs per matrix (GitHub Actions)


def targets(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """The targets, wave after wave; ``github-matrix``: one wave's (or the fleet's) strategy.matrix."""
    chosen = in_wave(args.settings, args.wave, may_be_empty=args.format == "github-matrix")
    if args.format == "github-matrix":
        if len(chosen) > GITHUB_MATRIX_LIMIT:
            raise PgstateError(
                f"{len(chosen)} targets in {'wave ' + repr(args.wave) if args.wave else 'one matrix'}: GitHub runs at"
                f" most {GITHUB_MATRIX_LIMIT} jobs per matrix",
                hint='split the wave into waves of at most 256 targets (wave = "2a", "2b"), each a job of'
                " fleet.yml, or run the fleet as a Kubernetes Indexed Job (deploy/kubernetes/)",
            )
        sys.stdout.write(json.dumps({"include": [target.matrix_entry() for target in chosen]}) + "\n")
    elif args.format == "json":
        entries = [
            {
                **target.matrix_entry(),
                "index": number,
                "overlay": str(target.overlay) if target.overlay else None,
                "desired": str(target.desired) if target.desired else None,
                "primary": target.primary,
            }
            for number, target in enumerate(chosen)
        ]
        waves = sorted({target.wave for target in chosen}, key=[t.wave for t in targets_of(args.settings)].index)
        sys.stdout.write(json.dumps({"targets": entries, "count": len(chosen), "waves": waves}, indent=2) + "\n")
    else:
        if not chosen:
            print("no targets configured: add [targets.NAME] tables to pgstate.toml")
        for target in chosen:
            extra = f", overlay {target.overlay}" if target.overlay else ""
            extra += f", desired {target.desired}" if target.desired else ""
            extra += f", primary {target.primary}" if target.primary else ""
            print(f"{target.wave:>8}  {target.name}  ({target.role}, ${target.url_env}{extra})")
    return ExitCode.OK


def fleet_report(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..fleet.report import join, report_json, report_markdown, report_prometheus, report_text
    from ..fleet.results import read_results
    from ..report.drift_formats import write_atomically

    expected = targets_of(args.settings) if args.expect == "all" else []
    report = join(read_results(list(args.files)), expected)
    render = {"text": report_text, "markdown": report_markdown, "json": report_json, "prometheus": report_prometheus}
    content = render[args.format](report)
    if args.out is not None:
        write_atomically(args.out, content)
    else:
        sys.stdout.write(content)
    return report.exit_code


def primary_connection(
    args: argparse.Namespace, stack: ExitStack, secrets: list[str]
) -> psycopg.Connection[Any] | None:
    """A standby target's primary, where the server parses the desired state (a standby can create nothing):
    None for other targets, and when its variable is not set (then only what needs no parsing can be planned)."""
    from ..db.connection import connect

    target = getattr(args, "target_settings", None)
    if target is None or target.primary is None:
        return None
    primary = primary_of(args.settings, target)
    assert primary is not None  # config checked that it names a primary target
    try:
        url = primary.url(args.settings)
    except PgstateError as unset:
        print(
            f"pgstate: note: {unset.message}: the desired state is parsed on the standby, if it can be", file=sys.stderr
        )
        return None
    secrets.append(url)
    return stack.enter_context(connect(url))


def refuse_standby_target(args: argparse.Namespace, verb: str) -> None:
    """A target pgstate.toml calls a standby is refused before connecting (the server is asked too, once
    connected: a URL may point at a standby whatever the file says)."""
    from ..errors import Refused

    target = getattr(args, "target_settings", None)
    if target is not None and target.is_standby:
        where = f" on its primary, --target {target.primary}" if target.primary else " on its primary"
        raise Refused(
            f"target {target.name!r} is a standby (pgstate.toml): {verb} changes nothing there",
            hint=f"{verb}{where}; the standby replays it",
        )


def _identity(args: argparse.Namespace) -> dict[str, Any]:
    target = getattr(args, "target_settings", None)
    if target is not None:
        return {"target": target.name, "wave": target.wave, "role": target.role}
    return {"target": _database(args) or "default", "wave": None, "role": None}


def _database(args: argparse.Namespace) -> str | None:
    from ..db.connection import describe
    from .settings import configured_url

    try:
        url = configured_url(args)
    except PgstateError:
        return None
    return describe(url) if url else None


def write_drift_result(args: argparse.Namespace, report: Any, code: ExitCode) -> None:
    if getattr(args, "result", None) is None:
        return
    items = [finding_item(finding) for finding in report.drift]
    status = DRIFT if items else IN_SYNC
    write_result(
        args.result,
        TargetResult(
            verb="drift",
            status=status,
            exit_code=int(code),
            database=_database(args),
            findings=items,
            **_identity(args),
        ),
    )


def write_plan_result(args: argparse.Namespace, plan: Any, code: ExitCode) -> None:
    if getattr(args, "result", None) is None:
        return
    items = [step_item(step) for step in plan.steps] + [
        {"kind": "refusal", "object": str(refusal), "finding": "refused"} for refusal in plan.refusals
    ]
    status = DRIFT if plan.differs else IN_SYNC
    write_result(
        args.result,
        TargetResult(
            verb="plan", status=status, exit_code=int(code), database=_database(args), findings=items, **_identity(args)
        ),
    )


def write_apply_result(args: argparse.Namespace, run_id: int | None, code: ExitCode, replicas: list[Any]) -> None:
    if getattr(args, "result", None) is None:
        return
    write_result(
        args.result,
        TargetResult(
            verb="apply",
            status=IN_SYNC if code is ExitCode.OK else FAILED,
            exit_code=int(code),
            database=_database(args),
            run_id=run_id,
            replicas=[lag.to_json() for lag in replicas],
            **_identity(args),
        ),
    )


def write_failed_result(args: argparse.Namespace, message: str, code: int) -> None:
    """What main writes when a verb with --result ends in an error: the job's failure is part of the report."""
    path = getattr(args, "result", None)
    if path is None:
        return
    try:
        status = REFUSED if code == ExitCode.REFUSED else FAILED
        identity = _identity(args) if hasattr(args, "settings") else {"target": "default", "wave": None, "role": None}
        write_result(path, TargetResult(verb=args.verb, status=status, exit_code=code, error=message, **identity))
    except OSError as error:
        print(f"pgstate: warning: cannot write {path}: {error.strerror or error}", file=sys.stderr)
