"""What `pgstate VERB --help` says besides the options: what the verb does, examples, and its exit codes (the
spec's table). Kept apart from the parser so the words can be read and reviewed in one place."""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VerbHelp:
    description: str
    examples: tuple[str, ...]
    exit_codes: tuple[tuple[int, str], ...]


WIDTH = 79
ERROR = (1, "an error: one line saying what to do (the traceback with --verbose)")

VERB_HELP: dict[str, VerbHelp] = {
    "validate": VerbHelp(
        "Check the desired files against the format and for meaning (duplicates, references). Needs no database.",
        ("pgstate validate", "pgstate validate --desired db/desired"),
        ((0, "valid"), (1, "invalid: every problem as file:line:col")),
    ),
    "lint": VerbHelp(
        "Rules over the desired state, and, when a database is configured, over its live objects and the plan: RLS"
        " performance, SECURITY DEFINER search_path, duplicate or unindexed things, destructive changes. Levels per"
        " rule in pgstate.toml's [lint.rules]; a document silences rules with lint: {ignore: [...]}.",
        ("pgstate lint", "pgstate lint --format sarif > pgstate.sarif", "pgstate lint --format github"),
        ((0, "no errors (warnings may remain)"), (1, "errors found, or an error")),
    ),
    "plan": VerbHelp(
        "The ordered steps that make the database match the desired files: each with its SQL, the lock it takes,"
        " whether it rewrites the table, and its hazards. Changes nothing.",
        (
            "pgstate plan",
            "pgstate plan --format markdown --base origin/main",
            "pgstate plan --out plan.json   # then: pgstate apply --plan plan.json",
        ),
        ((0, "no changes"), (2, "changes (or refused steps) found"), ERROR),
    ),
    "apply": VerbHelp(
        "Carry out a fresh plan (or --plan FILE, refused if stale): indexes built concurrently, the rest in one"
        " transaction under the lock timeout with retries, data dumped and verified before any destructive step,"
        " everything rolled back on failure, then verified.",
        (
            "pgstate apply",
            "pgstate apply --yes --plan plan.json",
            "pgstate apply --yes --allow-destructive --backup-dir /var/lib/pgstate/backups",
        ),
        (
            (0, "converged: no drift remains"),
            (1, "failed, and rolled back to the state before the run"),
            (3, "refused: another apply runs, stale plan, destructive or authz step not allowed, not confirmed"),
        ),
    ),
    "drift": VerbHelp(
        "Every difference between the desired files and the database that a plan would change, plus INVALID"
        " indexes; unmanaged indexes of managed tables are listed as information.",
        (
            "pgstate drift",
            "pgstate drift --strict   # unmanaged indexes count as drift too",
            "pgstate drift --format prometheus --out /var/lib/node_exporter/textfile/pgstate.prom",
        ),
        ((0, "no drift"), (2, "drift found"), ERROR),
    ),
    "history": VerbHelp(
        "The runs recorded in the database's pgstate schema; with RUN, one run in full with its steps.",
        ("pgstate history", "pgstate history 12 --format json"),
        ((0, "shown"), ERROR),
    ),
    "rollback": VerbHelp(
        "Return the managed objects to their state before run RUN, and restore the data that run dumped. Itself a"
        " run, applied the same way.",
        ("pgstate rollback 12", "pgstate rollback 12 --yes"),
        ((0, "rolled back and verified"), (1, "failed, and left as before the rollback"), (3, "refused")),
    ),
    "export": VerbHelp(
        "Write desired YAML for objects that exist in the database: the way to adopt pgstate on a live database.",
        (
            "pgstate export --all",
            "pgstate export --all --schema app --out db/desired",
            "pgstate export public.User public.Post",
            "pgstate export --database --role authenticated",
        ),
        ((0, "written"), ERROR),
    ),
    "embedded": VerbHelp(
        "The embedded PostgreSQL that pgstate uses when no database URL is configured (under ./.pgstate/embedded):"
        " whether it runs and its URL, or stop it.",
        ("pgstate embedded status", "pgstate embedded stop"),
        ((0, "done"), ERROR),
    ),
    "show": VerbHelp(
        "Render a plan saved with `pgstate plan --out` in any plan format, without a database.",
        ("pgstate show plan.json", "pgstate show plan.json --format markdown"),
        ((0, "shown"), (1, "the file is not a saved plan")),
    ),
    "advise": VerbHelp(
        "Proposals from the workload pg_stat_statements measured: indexes (verified with hypopg's hypothetical"
        " indexes when the server has it), unused and redundant indexes, json columns read as JSON, policies that"
        " call a function per row, and settings; --write puts them into the desired files, each with a comment.",
        (
            "pgstate advise",
            'pgstate advise --role authenticated --claims \'{"sub": "8f1c..."}\'',
            "pgstate advise --write --format markdown > advice.md",
        ),
        ((0, "nothing to propose"), (2, "proposals"), ERROR),
    ),
    "status": VerbHelp(
        "One line: whether the database is in sync with the desired files, at which commit, and the last run.",
        ("pgstate status",),
        ((0, "in sync"), (2, "not in sync"), ERROR),
    ),
    "targets": VerbHelp(
        "The targets of pgstate.toml's [targets.NAME] tables, wave after wave (canary, then 1, 2, ...), or the"
        " strategy.matrix of one wave for GitHub Actions: names and variable names only, never a URL.",
        (
            "pgstate targets",
            "pgstate targets --format github-matrix --wave canary",
            "pgstate targets --format json --wave 1   # its count: an Indexed Job's completions",
        ),
        ((0, "shown"), ERROR),
    ),
    "fleet-report": VerbHelp(
        "Join the result files of a fleet's jobs (plan, drift or apply --result FILE) into one report: failures"
        " first, then the targets grouped by their drift fingerprint, as text, markdown or Prometheus series with"
        " a target label. A configured target without a result counts as a failure (--expect none: not).",
        (
            "pgstate fleet-report results/",
            "pgstate fleet-report results/*.json --format markdown >> $GITHUB_STEP_SUMMARY",
            "pgstate fleet-report results/ --format prometheus --out /var/lib/node_exporter/textfile/fleet.prom",
        ),
        ((0, "every target in sync"), (2, "drift (and no failure)"), (1, "a target failed or did not report")),
    ),
}

ENVIRONMENT = (
    "Options may also come before the verb. Defaults come from pgstate.toml, found upward from the working"
    " directory; options override it. The URL comes from --database-url, else the variable of --target's target,"
    " else $PGSTATE_DATABASE_URL, else the variable pgstate.toml's url_env names (else $DATABASE_URL); with none, an"
    " embedded PostgreSQL is used."
)


def describe_verbs(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Give each verb's parser its description and an epilog of examples and exit codes (laid out here, at 79
    columns: argparse would join the lines of the lists)."""
    for name, parser in subparsers.choices.items():
        found = VERB_HELP.get(name)
        if found is None:
            continue
        examples = "\n".join(f"  {example}" for example in found.examples)
        codes = "\n".join(f"  {code}  {meaning}" for code, meaning in found.exit_codes)
        parser.description = textwrap.fill(found.description, WIDTH)
        parser.epilog = f"examples:\n{examples}\n\nexit codes:\n{codes}\n\n{textwrap.fill(ENVIRONMENT, WIDTH)}"
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
