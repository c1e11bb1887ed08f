"""The advisor's flow: read the workload, plan it, find and verify candidates, add what is not an index."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ..model.names import QualifiedName
from .candidates import Candidate, Scan, already_served, candidates, scans
from .explain import NotPlannable, Persona, Planner
from .hypothetical import Costs, Hypothetical, Verified, index_statement
from .proposals import Advice, Evidence, Proposal
from .workload import ExistingIndex, Statement, Workload, joined, read_workload, role_timeouts

# Per-row calls a policy should make once per statement, as Supabase's RLS guide wraps them.
PER_ROW_CALL = re.compile(
    r"(?<!SELECT )(?<!select )\b((?:auth\.(?:uid|jwt|role|email)\(\))"
    r"|current_setting\('[^']*'(?:::text)?(?:, (?:true|false))?\))"
)
SERVING_TIMEOUTS = {"authenticated": "8s", "anon": "3s"}  # Supabase's defaults for its API roles
HIDE_SINCE = (1, 4)  # hypopg_hide_index came with hypopg 1.4
MATURE_DAYS = 7  # an index unused for less than a week of statistics may serve a weekly job
WORSE = 0.01  # an index is kept when hiding it makes a statement's estimate this much worse


@dataclass(frozen=True)
class Options:
    top: int = 20
    min_calls: int = 1
    max_indexes: int = 5
    persona: Persona = Persona(None, None)  # noqa: RUF009  # frozen: one shared default is safe
    serving_roles: tuple[str, ...] = tuple(SERVING_TIMEOUTS)
    # The statements the database's standbys served (their own pg_stat_statements): planned here, with the rest.
    standby_statements: tuple[tuple[Statement, ...], ...] = ()


def advise(conn: psycopg.Connection[Any], options: Options) -> Advice:
    workload = read_workload(conn, top=options.top, min_calls=options.min_calls)
    if options.standby_statements:
        workload.statements = joined(options.top, workload.statements, *map(list, options.standby_statements))
    proposals = _settings(conn, workload, options)
    notes: list[str] = []
    with conn.transaction(force_rollback=True):  # nothing the advisor does stays: not even hypopg
        hypopg = _hypopg(conn, workload, notes)
        planner = Planner(conn, options.persona)
        costs, unplannable = Costs(), []
        found: dict[Candidate, list[Statement]] = {}
        read: dict[Statement, list[Scan]] = {}
        for statement in workload.statements:
            try:
                planned = planner.plan(statement.text)
            except NotPlannable as error:
                unplannable.append((statement.text, str(error)))
                continue
            costs.planned[statement] = planned
            read[statement] = scans(planned.root, workload)
            for scan in read[statement]:
                for candidate in candidates(scan):
                    if not already_served(candidate, scan.table):
                        found.setdefault(candidate, []).append(statement)
        if hypopg is not None:
            chosen = Hypothetical(conn, planner).choose(found, costs, options.max_indexes)
            proposals[:0] = [_index_proposal(conn, workload, verified) for verified in chosen]
        else:
            proposals[:0] = _unverified(conn, workload, found, options.max_indexes)
        proposals += _jsonb(workload, read)
        proposals += _per_row_calls(workload, read)
        proposals += _removals(conn, workload, read, costs, planner if _can_hide(hypopg) else None, notes)
    return Advice(proposals, len(workload.statements), len(costs.planned), unplannable, hypopg, notes)


def _hypopg(conn: psycopg.Connection[Any], workload: Workload, notes: list[str]) -> str | None:
    server = workload.server
    if server.hypopg_created is not None:
        return server.hypopg_created
    if not server.hypopg_available or server.standby:
        notes.append(
            "hypopg is not available on this server: index candidates are listed unverified. Install it (Debian and"
            " Ubuntu: `apt install postgresql-NN-hypopg`; Supabase: `create extension hypopg`), or verify them"
            " with `pgstate advise --prove`."
        )
        return None
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION hypopg")  # inside the advisor's transaction, which is rolled back
            row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'hypopg'").fetchone()
    except psycopg.Error as error:
        notes.append(f"hypopg could not be created here ({' '.join(str(error).split())}): candidates unverified")
        return None
    return str(row[0]) if row else None


def _can_hide(hypopg: str | None) -> bool:
    if hypopg is None:
        return False
    parts = tuple(int(part) for part in re.findall(r"\d+", hypopg)[:2])
    return parts >= HIDE_SINCE


def _evidence(
    statements: Sequence[Statement], before: dict[Statement, float], after: dict[Statement, float]
) -> list[Evidence]:
    return [
        Evidence(s.text, s.calls, round(s.mean_ms, 3), before.get(s), after.get(s))
        for s in sorted(statements, key=lambda s: -s.total_ms)
    ]


def _index_entry(conn: psycopg.Connection[Any], candidate: Candidate) -> dict[str, Any]:
    columns: list[Any] = []
    for key in candidate.keys:
        if key.descending or key.nulls_first is not None:
            entry: dict[str, Any] = {"column": key.column}
            if key.descending:
                entry["order"] = "desc"
            if key.nulls_first is not None:
                entry["nulls"] = "first" if key.nulls_first else "last"
            columns.append(entry)
        else:
            columns.append(key.column)
    index: dict[str, Any] = {"columns": columns}
    if candidate.method != "btree":
        index["method"] = candidate.method
    if candidate.include:
        index["include"] = list(candidate.include)
    if candidate.where:
        from .hypothetical import predicate

        index["where"] = predicate(candidate.where).as_string(conn)
    return index


def _index_proposal(conn: psycopg.Connection[Any], workload: Workload, verified: Verified) -> Proposal:
    candidate = verified.candidate
    table = workload.tables[candidate.table]
    writes = (
        f"; {table.index_writes:,} row writes since the statistics were reset would also have written it"
        if table.index_writes
        else ""
    )
    return Proposal(
        "index",
        candidate.table,
        index_statement(candidate).as_string(conn),
        f"{candidate.reason}{_policy_column(workload, candidate)}; estimated {verified.gain:.0%} cheaper, weighted by"
        f" calls{writes}",
        True,
        {"index": _index_entry(conn, candidate)},
        _evidence(verified.uses, verified.before, verified.after),
    )


def _policy_column(workload: Workload, candidate: Candidate) -> str:
    """Says so when the index leads with a column a policy of its table compares: RLS adds that comparison to every
    read of the table, so without such an index each one scans it whole."""
    column = candidate.columns[0]
    spelled = re.compile(
        rf'"{re.escape(column)}"' if not re.fullmatch(r"[a-z_][a-z0-9_$]*", column) else rf"\b{re.escape(column)}\b"
    )
    names = [
        policy["name"]
        for policy in workload.policies
        if QualifiedName(policy["schema"], policy["table"]) == candidate.table
        and any(policy[clause] and spelled.search(policy[clause]) for clause in ("using", "with_check"))
    ]
    if not names:
        return ""
    quoted = ", ".join(repr(name) for name in names)
    return f" (the column that policy {quoted} compares: RLS adds it to every read)"


def _unverified(
    conn: psycopg.Connection[Any], workload: Workload, found: dict[Candidate, list[Statement]], budget: int
) -> list[Proposal]:
    """Without hypopg: per table and leading columns the widest candidate, those serving most calls first."""
    best: dict[tuple[QualifiedName, tuple[str, ...]], Candidate] = {}
    for candidate in found:
        key = (candidate.table, candidate.columns[:1])
        if key not in best or len(candidate.keys) > len(best[key].keys):
            best[key] = candidate
    ranked = sorted(best.values(), key=lambda c: -sum(s.total_ms for s in found[c]))[:budget]
    return [
        Proposal(
            "index",
            c.table,
            index_statement(c).as_string(conn),
            f"{c.reason}{_policy_column(workload, c)}; unverified (no hypopg)",
            False,
            {"index": _index_entry(conn, c)},
            _evidence(found[c], {}, {}),
        )
        for c in ranked
    ]


def _jsonb(workload: Workload, read: dict[Statement, list[Scan]]) -> list[Proposal]:
    uses: dict[tuple[QualifiedName, str], list[Statement]] = {}
    containment: set[tuple[QualifiedName, str]] = set()
    for statement, found in read.items():
        for scan in found:
            for column in scan.json:
                if scan.table.columns.get(column) == "json":
                    uses.setdefault((scan.table.name, column), []).append(statement)
                    if column in scan.containment:
                        containment.add((scan.table.name, column))
    for statement in workload.statements:  # JSON read in the select list does not show in a scan's filter
        for table in workload.tables.values():
            for column, kind in table.columns.items():
                operator = re.search(rf'"?{re.escape(column)}"?\s*(->>|->|#>>|#>)', statement.text)
                if kind == "json" and operator and re.search(rf"\b{re.escape(table.name.name)}\b", statement.text):
                    found_for = uses.setdefault((table.name, column), [])
                    if statement not in found_for:
                        found_for.append(statement)
    proposals = []
    for (name, column), statements in sorted(uses.items()):
        change: dict[str, Any] = {"column": column, "type": "jsonb"}
        if (name, column) in containment:
            change["index"] = {"columns": [column], "method": "gin"}
        proposals.append(
            Proposal(
                "jsonb",
                name,
                f"{name}.{column}: json → jsonb",
                "read with JSON operators by the workload; jsonb is parsed once on write, not on every read"
                + ("; containment (@>) is served by a GIN index" if "index" in change else ""),
                True,
                change,
                _evidence(statements, {}, {}),
            )
        )
    return proposals


def _per_row_calls(workload: Workload, read: dict[Statement, list[Scan]]) -> list[Proposal]:
    """Policies whose auth.*() or current_setting() calls show in a scan's filter: evaluated for every row."""
    filtered: dict[QualifiedName, list[Statement]] = {}
    for statement, found in read.items():
        for scan in found:
            if scan.table.rls and any(PER_ROW_CALL.search(text) for text in scan.conditions):
                filtered.setdefault(scan.table.name, []).append(statement)  # the policy, evaluated per row
    proposals = []
    for policy in workload.policies:
        table = QualifiedName(policy["schema"], policy["table"])
        if table not in filtered:
            continue
        change: dict[str, Any] = {"policy": policy["name"]}
        for clause in ("using", "with_check"):
            text = policy[clause]
            if text and PER_ROW_CALL.search(text):
                change[clause] = PER_ROW_CALL.sub(lambda m: f"(select {m.group(1)})", text)
        if len(change) == 1:
            continue
        proposals.append(
            Proposal(
                "rls",
                table,
                f"policy {policy['name']!r} on {table}: call once per statement",
                "the policy calls a function per row: wrapped in a scalar subquery, the planner runs it once (an"
                " InitPlan) and can use an index on the compared column",
                True,
                change,
                _evidence(filtered[table], {}, {}),
            )
        )
    return proposals


def _removals(
    conn: psycopg.Connection[Any],
    workload: Workload,
    read: dict[Statement, list[Scan]],
    costs: Costs,
    planner: Planner | None,
    notes: list[str],
) -> list[Proposal]:
    """Unused and redundant indexes; with a ``planner`` (hypopg 1.4+) each is hidden first, and one that makes a top
    statement's estimate worse is kept, with a note saying which statement and by how much."""
    since = workload.server.statistics_since
    age = datetime.datetime.now(datetime.UTC) - since
    proposals = []
    hypothetical = Hypothetical(conn, planner) if planner is not None else None
    young = age < datetime.timedelta(days=MATURE_DAYS)
    for table in workload.tables.values():
        droppable = [i for i in table.indexes if i.valid and not i.constraint and not i.unique]
        unused = {index.name for index in droppable if index.scans == 0}
        for index in droppable:
            reasons = []
            wider = _covering(index, [other for other in table.indexes if other.name not in unused])
            if wider is not None:
                reasons.append(f"redundant: {wider.name} starts with the same columns")
            if index.name in unused:
                reasons.append(
                    f"not scanned since the statistics were reset {_ago(age)} ago ({since:%Y-%m-%d %H:%M} UTC)"
                )
            if not reasons:
                continue
            verified = not young
            if young:
                reasons.append(
                    f"statistics younger than {MATURE_DAYS} days: wait until they cover a week of the workload"
                )
            if hypothetical is not None:
                affected = [s for s, found in read.items() if any(scan.table.name == table.name for scan in found)]
                hypothetical.hide(index)
                try:
                    after = hypothetical.replan(affected)
                finally:
                    hypothetical.unhide(index)
                worse = [
                    (s, costs.planned[s].cost, p.cost)
                    for s, p in after.items()
                    if p.cost > costs.planned[s].cost * (1 + WORSE)
                ]
                if worse:
                    notes.append(_needed(index, reasons[0], worse))
                    continue
                reasons.append("hidden with hypopg, no top statement's estimate gets worse")
            change = {"drop_index": index.name}
            why = "; ".join(reasons)
            proposals.append(Proposal("drop-index", table.name, f"drop index {index.name}", why, verified, change))
    return proposals


def _needed(index: ExistingIndex, looks: str, worse: Sequence[tuple[Statement, float, float]]) -> str:
    statement, before, after = max(worse, key=lambda found: found[2] / found[1] if found[1] else float("inf"))
    text = " ".join(statement.text.split())
    text = text if len(text) <= 80 else text[:77] + "..."
    more = f" and {len(worse) - 1} more" if len(worse) > 1 else ""
    growth = f"+{(after - before) / before:.0%}" if before else "from 0"
    return (
        f"kept {index.name} ({looks}): hidden with hypopg, the estimate of `{text}` goes {before:.0f} -> {after:.0f}"
        f" ({growth}){more}"
    )


def _covering(index: ExistingIndex, others: Sequence[ExistingIndex]) -> ExistingIndex | None:
    if index.method != "btree" or index.partial or None in index.keys:
        return None
    for other in others:
        if other is index or other.method != "btree" or other.partial or not other.valid:
            continue
        if len(other.keys) > len(index.keys) and other.keys[: len(index.keys)] == index.keys:
            return other
        if other.keys == index.keys and (other.unique or other.constraint or other.name < index.name):
            return other  # a duplicate: keep the constraint's, else the first by name
    return None


def _ago(age: datetime.timedelta) -> str:
    if age.days >= 1:
        return f"{age.days} day(s)"
    return f"{int(age.total_seconds() // 3600)} hour(s)"


def _settings(conn: psycopg.Connection[Any], workload: Workload, options: Options) -> list[Proposal]:
    server = workload.server
    proposals = []
    if server.log_min_duration_statement == "-1":
        proposals.append(
            Proposal(
                "setting",
                None,
                "log slow statements (log_min_duration_statement = 1s)",
                "slow-query logging is off: a statement that takes seconds leaves no trace",
                True,
                {"database_setting": {"log_min_duration_statement": 1000}},
            )
        )
    if not server.statements_created:
        proposals.append(
            Proposal(
                "setting",
                None,
                "create pg_stat_statements",
                "without it there is no workload to advise on",
                True,
                {"extension": "pg_stat_statements"},
            )
        )
    if not server.statements_preloaded:
        proposals.append(
            Proposal(
                "setting",
                None,
                "preload pg_stat_statements (shared_preload_libraries, then a restart)",
                "pg_stat_statements collects nothing unless preloaded; a server setting, outside the desired state",
                True,
                {},
            )
        )
    timeouts = role_timeouts(conn, list(options.serving_roles))
    for role, timeout in sorted(timeouts.items()):
        if timeout is None:
            value = SERVING_TIMEOUTS.get(role, "8s")
            proposals.append(
                Proposal(
                    "setting",
                    None,
                    f"statement_timeout {value} for role {role}",
                    f"{role} serves the API and has no statement_timeout: a runaway query holds its connection",
                    True,
                    {"role_setting": {"role": role, "statement_timeout": value}},
                )
            )
    return proposals
