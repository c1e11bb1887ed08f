"""The verbs: each reads its options, runs the flow, writes its output, and returns the exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

from ..db.connection import connect, resolve_target
from ..db.pooler import say_pooler_notice
from ..errors import ExitCode, PgstateError
from ..planning.plan import Plan
from ..report import plan as plan_render
from .advise import advise
from .common import change_options, changing_target, confirmation, connect_configured, say_to
from .fleet import (
    fleet_report,
    primary_connection,
    refuse_standby_target,
    targets,
    write_apply_result,
    write_drift_result,
    write_plan_result,
)
from .runs import history, rollback
from .settings import configured_url, default_schema

PLAN_FORMATS: dict[str, Callable[[Plan, psycopg.Connection[Any] | None], str]] = {
    "text": plan_render.plan_text,
    "json": plan_render.plan_json,
    "sql": plan_render.plan_sql,
    "markdown": plan_render.plan_markdown,
}


def validate(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..pipeline import load_desired

    specs = load_desired(args.desired, default_schema=default_schema(args), overlay=args.overlay)
    print(f"{len(specs.files)} file(s), {len(specs.documents)} document(s): valid")
    return ExitCode.OK


def plan(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """Exit 2 when anything differs, refused steps included: plan shows a refusal beside the steps that would
    run (apply refuses it, exit 3). Lint findings (--lint) are shown, and never change the exit code."""
    from ..pipeline import load_desired, plan_for
    from ..report import review as plan_review
    from ..report.terminal import console_for, write

    # bad input is refused before any connection
    specs = load_desired(args.desired, default_schema=default_schema(args), overlay=args.overlay)
    changes = None
    if args.base is not None:
        from ..source.changes import changes_since

        changes = changes_since(args.desired, args.base, default_schema=default_schema(args))
    _, conn = connect_configured(args, secrets)
    with conn, ExitStack() as stack:
        primary = primary_connection(args, stack, secrets)
        state, found = plan_for(
            conn,
            specs,
            lock_timeout=args.lock_timeout,
            retries=args.retries,
            keep_refusals=True,
            canonicalize_on=primary,
        )
        findings = None
        if args.lint:
            from ..lint import LintInput, read_lint_facts, run_lint

            lint_input = LintInput(list(specs.documents), state, found)
            findings = run_lint(lint_input, read_lint_facts(conn, state.live), args.settings.lint_levels)
        if args.out:
            args.out.write_text(plan_render.plan_json(found, conn), encoding="utf-8")
        review = plan_review.PlanReview(found, args.base, changes, findings)
        if args.format == "text":
            write(console_for(sys.stdout), plan_review.review_rich(review, conn))
        else:
            render = {
                "json": plan_review.review_json,
                "sql": plan_review.review_sql,
                "markdown": plan_review.review_markdown,
            }[args.format]
            sys.stdout.write(render(review, conn))
    code = ExitCode.CHANGES if found.differs else ExitCode.OK
    write_plan_result(args, found, code)
    return code


def show(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """A saved plan in any plan format, rendered as `plan` renders a fresh one (no base, no lint: it saved none)."""
    from ..planning.saved import read_saved_plan
    from ..report import review as plan_review
    from ..report.terminal import console_for, write

    review = plan_review.PlanReview(read_saved_plan(args.file), None, None, None)
    if args.format == "text":
        write(console_for(sys.stdout), plan_review.review_rich(review, None))
    else:
        render = {
            "json": plan_review.review_json,
            "sql": plan_review.review_sql,
            "markdown": plan_review.review_markdown,
        }
        sys.stdout.write(render[args.format](review, None))
    return ExitCode.OK


def apply(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..execution.apply import apply
    from ..pipeline import load_desired

    refuse_standby_target(args, "apply")
    specs = load_desired(args.desired, default_schema=default_schema(args), overlay=args.overlay)
    url = changing_target(args, secrets, "apply")
    options = change_options(
        args,
        plan_file=args.plan_file,
        allow_destructive=args.allow_destructive,
        allow_authz_widening=args.allow_authz_widening,
        full_backup=args.backup == "full",
        replica_lag_budget=args.replica_lag_budget,
    )
    outcome = apply(url, specs, options, say=say_to(args), confirm=confirmation(args))
    replicas = _standbys_after(url, args) if outcome.run_id is not None else []
    write_apply_result(args, outcome.run_id, outcome.exit_code, replicas)
    if args.format == "json":
        result = {
            "run_id": outcome.run_id,
            "status": "applied" if outcome.run_id else "no changes",
            "plan": outcome.plan.to_json(None),
            "replicas": [lag.to_json() for lag in replicas],
        }
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    elif outcome.run_id is None:
        print("No changes: the database matches the desired state.")
    else:
        print(f"Applied {len(outcome.plan.steps)} step(s) as run {outcome.run_id}; verified: no drift remains.")
    return outcome.exit_code


def _standbys_after(url: str, args: argparse.Namespace) -> list[Any]:
    """Wait (at most --replica-lag-budget) for the primary's standbys to replay the run, and say how each did."""
    from ..fleet.replicas import wait_for_standbys

    with connect(url) as conn:
        lags = wait_for_standbys(conn, args.replica_lag_budget)
    for lag in lags:
        say_to(args)(("" if lag.caught_up or not lag.visible else "warning: ") + lag.describe())
    return lags


def drift(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """The drift report on stdout or in --out. In --format prometheus a check that fails still writes its
    metrics (pgstate_up 0: monitoring must hear of it), then its error goes on to main like any other."""
    from ..pipeline import load_desired, read_state
    from ..report import drift_formats
    from ..report.drift import drift_report
    from ..report.terminal import console_for, write

    try:
        specs = load_desired(args.desired, default_schema=default_schema(args), overlay=args.overlay)
        _, conn = connect_configured(args, secrets)
        with conn, ExitStack() as stack:
            primary = primary_connection(args, stack, secrets)
            state = read_state(
                conn, specs, lock_timeout=args.lock_timeout, retries=args.retries, canonicalize_on=primary
            )
            report = drift_report(conn, state.context, args.desired, strict=args.strict)
    except Exception:
        if args.format == "prometheus":
            _failed_check_metrics(args)
        raise
    if args.format == "text" and args.out is None:
        write(console_for(sys.stdout), drift_formats.drift_styled(report))
    else:
        render = {
            "text": drift_formats.drift_text,
            "json": drift_formats.drift_json,
            "markdown": drift_formats.drift_markdown,
            "prometheus": drift_formats.drift_prometheus,
        }[args.format]
        _drift_output(args.out, render(report))
    code = ExitCode.CHANGES if report.drift else ExitCode.OK
    write_drift_result(args, report, code)
    return code


def status(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """One line: in sync or not (what drift would say), the desired files' commit, the last run."""
    from ..history import runs
    from ..pipeline import load_desired, read_state
    from ..report.drift import drift_report
    from ..report.status import status_line
    from ..report.terminal import console_for, write

    specs = load_desired(args.desired, default_schema=default_schema(args), overlay=args.overlay)
    _, conn = connect_configured(args, secrets)
    with conn, ExitStack() as stack:
        primary = primary_connection(args, stack, secrets)
        state = read_state(conn, specs, lock_timeout=args.lock_timeout, retries=args.retries, canonicalize_on=primary)
        report = drift_report(conn, state.context, args.desired)
        last = None
        if runs.history_exists(conn):
            row = conn.execute("SELECT max(id) FROM pgstate.runs").fetchone()
            found = runs.read_runs(conn, row[0]) if row and row[0] is not None else []
            last = found[0] if found else None
    write(console_for(sys.stdout), status_line(report, last))
    return ExitCode.CHANGES if report.drift else ExitCode.OK


def _drift_output(out: Path | None, content: str) -> None:
    from ..report.drift_formats import write_atomically

    if out is None:
        sys.stdout.write(content)
    else:
        write_atomically(out, content)


def _failed_check_metrics(args: argparse.Namespace) -> None:
    """The metrics of a drift check that failed, labelled with the database it was to check. Best effort: the
    check's own error is what the user must read, so a metrics file that cannot be written is a warning."""
    import time

    from ..report.drift import UNKNOWN_TARGET, CheckTarget
    from ..report.drift_formats import failed_check_prometheus

    checked_at = time.time()
    try:
        target = CheckTarget.of_url(configured_url(args))
    except Exception:  # what failed the check (the configuration) may fail here too: the labels stay empty
        target = UNKNOWN_TARGET
    try:
        _drift_output(args.out, failed_check_prometheus(target, checked_at))
    except OSError as error:
        print(f"pgstate: warning: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)


def lint(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """Lint the desired files, and, when a database is configured (never the embedded default: its tables are
    not the application's), the canonical desired state, the live managed objects and the plan."""
    from ..lint import LintInput, has_errors, read_lint_facts, run_lint
    from ..pipeline import load_desired, plan_for, read_state

    specs = load_desired(args.desired, default_schema=default_schema(args), overlay=args.overlay)
    url = configured_url(args)
    lint_input = LintInput(list(specs.documents), None, None)
    facts = None
    if url is None:
        print(
            "pgstate: no database configured: only the desired files are linted (rules that need the catalog"
            " are skipped); pass --database-url or set $PGSTATE_DATABASE_URL",
            file=sys.stderr,
        )
    else:
        secrets.append(url)
        say_pooler_notice(resolve_target(url, Path.cwd()))  # and what the URL has that libpq does not take
        found = None
        with connect(url) as conn:
            state = read_state(conn, specs, lock_timeout=args.lock_timeout, retries=args.retries)
            facts = read_lint_facts(conn, state.live)
            try:
                _, found = plan_for(conn, specs, lock_timeout=args.lock_timeout, retries=args.retries)
            except PgstateError as refused:  # e.g. a retirement its guards refuse: the rest is still worth linting
                from . import _scrubbed

                print(f"pgstate: no plan to lint: {_scrubbed(refused.render(), secrets)}", file=sys.stderr)
        lint_input = LintInput(list(specs.documents), state, found)
    findings = run_lint(lint_input, facts, args.settings.lint_levels)
    sys.stdout.write(_lint_output(args.format, findings))
    return ExitCode.ERROR if has_errors(findings) else ExitCode.OK  # the same in every format


def _lint_output(format_: str, findings: list[Any]) -> str:
    from ..lint import render_json, render_text
    from ..lint.code_review import render_github, render_sarif, repository_root

    if format_ in ("sarif", "github"):
        render = render_sarif if format_ == "sarif" else render_github
        return render(findings, root=repository_root(Path.cwd()), cwd=Path.cwd())
    return render_json(findings) if format_ == "json" else render_text(findings)


def export(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """Desired files for the named objects (or every table, --all): a line per file on stdout, then the counts;
    what was left out on stderr."""
    from ..report.exported import export_report
    from ..report.terminal import console_for, write
    from ..source.export import ExportTargets, export, parse_table_argument

    schema = args.settings.schema or "public"  # of names without one, and the schema whose files go at the top
    targets = ExportTargets(
        tables=tuple(parse_table_argument(text, schema) for text in args.tables),
        functions=tuple(parse_table_argument(text, schema) for text in args.function),
        views=tuple(parse_table_argument(text, schema) for text in args.view),
        roles=tuple(args.role),
        database=args.database,
        all_tables=args.all_tables,
        schemas=tuple(args.schema),
    )
    targets.check()  # refused before any connection
    out = args.out if args.out is not None else args.desired
    _, conn = connect_configured(args, secrets)
    with conn:
        result = export(
            conn,
            targets,
            out,
            schema_ref=args.schema_ref,
            default_schema=schema,
            warn=lambda message: print(f"pgstate: warning: {message}", file=sys.stderr),
            lock_timeout=args.lock_timeout,
            retries=args.retries,
        )
    left_out = result.discovered.left_out() if result.discovered is not None else None
    if left_out is not None:
        print(f"pgstate: note: {left_out}", file=sys.stderr)
    write(console_for(sys.stdout), export_report(result, out))
    return ExitCode.OK


def embedded(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """The embedded server of the project in the working directory (where a verb without a URL starts it)."""
    from ..servers.embedded import embedded_status, stop_embedded

    if args.action == "stop":
        print(stop_embedded(Path.cwd()))
        return ExitCode.OK
    status = embedded_status(Path.cwd())
    print(json.dumps(status.to_json(), indent=2, sort_keys=True) if args.format == "json" else status.describe())
    return ExitCode.OK  # a report, like history: whether it runs is its answer, not an error


VERBS: dict[str, Callable[[argparse.Namespace, list[str]], ExitCode]] = {
    "advise": advise,
    "targets": targets,
    "fleet-report": fleet_report,
    "export": export,
    "history": history,
    "rollback": rollback,
    "lint": lint,
    "validate": validate,
    "plan": plan,
    "apply": apply,
    "drift": drift,
    "status": status,
    "show": show,
    "embedded": embedded,
}
