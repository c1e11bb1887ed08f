"""The ``advise`` verb: the advisor's report, and its --write, --branch and --prove."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import ExitCode, PgstateError
from .settings import default_schema


def advise(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """Exit 2 when there is anything to propose. Nothing the advisor does on the server stays (its transaction is
    rolled back); --write changes only the desired files."""
    from ..advice.advisor import Options
    from ..advice.advisor import advise as run_advisor
    from ..advice.explain import Persona
    from ..advice.report import advice_json, advice_markdown, advice_text

    if args.claims is not None:
        try:
            json.loads(args.claims)
        except ValueError as error:
            raise PgstateError(
                f"--claims is not JSON: {error}", hint='e.g. --claims \'{"sub": "<user id>"}\''
            ) from None
    options = Options(
        args.top,
        args.min_calls,
        args.max_indexes,
        Persona(args.role, args.claims),
        standby_statements=_standby_workloads(args, secrets),
    )
    workload = None
    if args.prove:
        workload = _prove_workload(args)
    if args.branch is not None:
        from ..advice.branch import check_branch

        check_branch(args.desired, args.branch)  # before the advisor's minutes, not after them
    from .common import connect_configured

    url, conn = connect_configured(args, secrets)
    if args.prove:
        _refuse_production(args, url)
    with conn:
        found = run_advisor(conn, options)
    if args.write or args.branch is not None:
        from ..advice.writeback import Written, write_proposals

        def write() -> Written:
            return write_proposals(args.desired, found.proposals, default_schema(args) or "public")

        if args.branch is None:
            written = write()
        else:
            from ..advice.branch import write_on_branch

            committed = write_on_branch(args.desired, args.branch, found.proposals, write)
            written = committed.written if committed is not None else Written()
            if committed is not None:
                print(f"committed {committed.commit[:12]} on branch {committed.branch}; push it and open a pull"
                      f" request: git push -u origin {committed.branch}", file=sys.stderr)  # fmt: skip
            else:
                print("nothing to commit: no proposal could be written, no branch created", file=sys.stderr)
        for path in written.files:
            print(f"wrote {path}", file=sys.stderr)
        for proposal, why in written.left_out:
            print(f"not written: {proposal.title}: {why}", file=sys.stderr)
    render = {"text": advice_text, "markdown": advice_markdown, "json": advice_json}[args.format]
    sys.stdout.write(render(found))
    if workload is not None and found.proposals:
        from ..advice.prove import prove

        measured = prove(url, args.desired, found.proposals, workload, options.persona, rounds=args.rounds,
                            default_schema=default_schema(args) or "public")  # fmt: skip
        print(f"measured on a copy, {args.rounds} rounds, medians:")
        for item in measured:
            query = " ".join(item.statement.split())[:100]
            print(f"  {item.before_ms:9.2f} ms -> {item.after_ms:9.2f} ms ({item.ratio:.2f}x)  {query}")
    return ExitCode.CHANGES if found.proposals else ExitCode.OK


def _prove_workload(args: argparse.Namespace) -> list[str]:
    from ..advice.prove import workload_statements

    if args.workload is None:
        raise PgstateError("--prove needs --workload FILE", hint="a file of concrete queries, each ending in ;")
    return workload_statements(args.workload)


def _refuse_production(args: argparse.Namespace, url: str) -> None:
    """--prove copies the database with CREATE DATABASE ... TEMPLATE (it must have no other session) and loads it
    with the workload: never on the database the configuration points apply at, unless --force."""
    from ..advice.prove import same_database
    from ..config import url_from_environment
    from ..errors import Refused

    production, source = url_from_environment(args.settings)
    if not args.force and same_database(url, production):
        raise Refused(
            f"--prove on the database {source} names, the configured target of apply",
            hint="run it against a staging copy (--database-url), or pass --force if this is not production",
        )


def _standby_workloads(args: argparse.Namespace, secrets: list[str]) -> tuple[tuple[Any, ...], ...]:
    """The workloads of the standbys pgstate.toml lists for --target (reads often run on replicas): each one's
    own pg_stat_statements, joined with the primary's. A standby whose variable is not set is left out, saying so."""
    from ..advice.workload import read_server, read_statements
    from ..db.connection import connect
    from ..fleet.targets import targets_of

    target = getattr(args, "target_settings", None)
    if target is None:
        return ()
    found = []
    for standby in targets_of(args.settings):
        if standby.primary != target.name:
            continue
        try:
            url = standby.url(args.settings)
        except PgstateError as unset:
            print(f"pgstate: note: {unset.message}: its workload is left out", file=sys.stderr)
            continue
        secrets.append(url)
        with connect(url) as conn:
            server = read_server(conn)
            if not (server.statements_created and server.statements_preloaded):
                print(f"pgstate: note: standby {standby.name} keeps no pg_stat_statements: left out", file=sys.stderr)
                continue
            statements = tuple(read_statements(conn, top=args.top, min_calls=args.min_calls))
        print(
            f"pgstate: joined the workload of standby {standby.name}: {len(statements)} statement(s)", file=sys.stderr
        )
        found.append(statements)
    return tuple(found)
