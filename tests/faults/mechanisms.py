"""The fault-injection campaign: a scenario per server and run (the seed's apply, or the rollback of it), its
calibration, the injections, and one function that carries out an injection and judges it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from faultkit import (
    BUILD_LIKE,
    HARNESS_APP,
    MECHANISM_ORDER,
    PGBENCH_TABLES,
    FaultServer,
    Finished,
    Observed,
    Pgbench,
    PgstateProcess,
    RecordFacts,
    Reference,
    Result,
    check_run_record,
    classify,
    compare_rows,
    copy_database,
    create_seed_template,
    ddl_seen,
    drop_database,
    harness_connect,
    install_commit_trigger,
    install_event_trigger,
    observe,
    pgstate_argv,
    remove_fault_objects,
    results_dir,
    run_cli,
    seeded,
    wait_until_quiet,
)
from faultproxy import Controller, Link, Message, Proxy, Verdict

from catalog import differences
from pgharness import PG15_MISSING, TestDatabase, run_pgstate_inprocess, server_bin_dir

FAST_LOCKS = ("50ms", 1)  # --lock-timeout, --retries for the competing-lock injections: fail fast
# The competing lock is held this long, many times what the retries take (0.05 + ~0.2 + 0.05 s): a run still going
# when it is released waited for it without a bound, which Guarantee 3 rules out.
HOLD_S = 15.0
MECHANISMS = MECHANISM_ORDER
COMMIT_VARIANTS = (
    "deferred-trigger",  # a deferred constraint trigger raises at COMMIT
    "cut-before-commit",  # the connection is cut as COMMIT is sent: the server never gets it
    "cut-in-flight",  # COMMIT reaches the server, the connection is cut at once: it may or may not commit
    "cut-after-reply",  # the server committed; its reply never arrives
    "terminate-after-reply",  # committed; the backend is terminated before pgstate reads the reply
    "kill-after-reply",  # committed; pgstate is killed before it reads the reply
    "restart-after-reply",  # committed; the server restarts (immediate) before pgstate reads the reply
)
RANDOM_KILLS = 30  # per server, run and load
PAYLOAD_ACTIONS = ("restore-table", "restore-values")  # steps that run more than one statement
RANDOM_CUTS = 30


@dataclass(frozen=True)
class Injection:
    mechanism: str
    label: str
    step: int = 0  # 1-based plan position (0: not a step)
    variant: str = ""
    seed: int = 0


@dataclass
class PlanStep:
    position: int
    action: str
    target: str
    table: str | None
    phase: str
    sql: str


@dataclass
class Scenario:
    """One server and one run: the template every injection copies, the states to compare with, the plan, and
    what the calibration (a successful run through the proxy, counting) saw."""

    server: FaultServer
    op: str  # apply | rollback
    template: str
    work_dir: Path
    divisor: int
    pre: Reference = field(default_factory=lambda: Reference({}, {}))
    post: Reference = field(default_factory=lambda: Reference({}, {}))
    steps: list[PlanStep] = field(default_factory=list)
    ddl_commands: int = 0
    ddl_log: list[tuple[Any, ...]] = field(default_factory=list)
    messages: int = 0
    seconds: float = 0.0
    work_begins_before_transaction: int = 0  # BEGINs on the work link up to its transaction's (inclusive)
    seen_steps: set[int] = field(default_factory=set)  # steps whose statement the proxy saw on the work link
    baseline_run: int = 0  # the newest run id in the template
    counter: int = 0

    @property
    def transaction_steps(self) -> frozenset[int]:
        return frozenset(s.position for s in self.steps if s.phase == "transaction")

    @property
    def outside_steps(self) -> frozenset[int]:
        return frozenset(s.position for s in self.steps if s.phase in BUILD_LIKE)

    @property
    def builds(self) -> frozenset[str]:
        """Indexes the run builds concurrently (before the transaction): a kill may leave them. Named both as
        the catalog snapshot names them (schema.name) and as quoted identifiers (the leftovers query)."""
        targets = [s.target for s in self.steps if s.action == "build-index"]
        return frozenset(targets) | frozenset(t.replace('"', "") for t in targets)

    def step(self, position: int) -> PlanStep:
        return self.steps[position - 1]

    def fresh(self, label: str) -> TestDatabase:
        self.counter += 1
        return copy_database(self.server, self.template, f"{self.op}_{label}")


# --- making the scenarios ---


def seed_template(server: FaultServer, divisor: int) -> str:
    name = f"faults_seed_{divisor}"
    create_seed_template(server, name, divisor)
    return name


def applied_template(server: FaultServer, seed: str, work_dir: Path) -> str:
    """A copy of the seed with the seed's apply done (run 1): what ``rollback 1`` starts from."""
    name = seed.replace("seed", "applied")
    with server.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"'.encode())
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{seed}"'.encode())
    argv = pgstate_argv("apply", server.url(name), work_dir / "applied-backups")
    code, out, err = run_cli(argv[3:])
    if code != 0:
        raise RuntimeError(f"the seed's apply failed on {server.server_id} (exit {code}):\n{out}\n{err}")
    return name


def calibrate(scenario: Scenario) -> None:
    """A successful run through the proxy with the counting event trigger (k = 0): the plan, the DDL commands
    and messages it takes, how long it runs, and the states before and after."""
    db = scenario.fresh("pre")
    try:
        pre = observe(db)
        scenario.pre = Reference(pre.catalog, pre.rows)
        scenario.baseline_run = max((int(r["id"]) for r in pre.runs), default=0)
    finally:
        drop_database(scenario.server, db)
    db = scenario.fresh("calibration")
    try:
        if scenario.op == "apply":
            code, out, err = run_cli(
                ["plan", "--format", "json", "--desired", str(_desired()), "--database-url", db.url]
            )
            if code != 2:
                raise RuntimeError(f"the seed's plan: exit {code}\n{out}\n{err}")
            scenario.steps = _plan_steps(json.loads(out)["steps"], db.name)
        install_event_trigger(db, 0, log=True)
        recorder = Recorder(scenario)
        recorder.dbname = db.name
        proxy = Proxy(scenario.server.socket_path, recorder)
        try:
            process = PgstateProcess(
                pgstate_argv(scenario.op, proxy.url(db.name), scenario.work_dir / "cal-backups"),
                scenario.work_dir / "calibration",
            )
            done = process.wait()
        finally:
            proxy.close()
        if done.exit_code != 0:
            raise RuntimeError(
                f"calibration {scenario.op} on {scenario.server.server_id}: exit {done.exit_code}\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        scenario.ddl_commands, scenario.ddl_log = ddl_seen(db)
        remove_fault_objects(db)
        if scenario.op == "rollback":
            with psycopg.connect(db.url, autocommit=True) as conn:
                row = conn.execute("SELECT plan FROM pgstate.runs WHERE rollback_of = 1 ORDER BY id LIMIT 1").fetchone()
            assert row is not None, "the rollback recorded no run"
            scenario.steps = _plan_steps(row[0]["steps"], db.name)
            recorder.rematch(scenario)
        scenario.messages = proxy.messages
        scenario.seconds = _timed_run(scenario)
        scenario.seen_steps = set(recorder.first_seen)
        scenario.work_begins_before_transaction = recorder.begins_before_transaction()
        post = observe(db)
        scenario.post = Reference(post.catalog, post.rows)
    finally:
        drop_database(scenario.server, db)


def _timed_run(scenario: Scenario) -> float:
    """How long the run takes as the random kills see it: straight to the server, without the proxy."""
    db = scenario.fresh("timing")
    try:
        process = PgstateProcess(
            pgstate_argv(scenario.op, db.url, scenario.work_dir / "timing-backups"), scenario.work_dir / "timing"
        )
        done = process.wait()
        if done.exit_code != 0:
            raise RuntimeError(
                f"timing {scenario.op} on {scenario.server.server_id}: exit {done.exit_code}\n{done.stderr[-3000:]}"
            )
        return done.seconds
    finally:
        drop_database(scenario.server, db)


def _desired() -> Path:
    from faultkit import DESIRED

    return DESIRED


THIS_DATABASE = '"<this database>"'  # the database's name in a step's SQL (settings): it differs per copy


def _plan_steps(steps: list[dict[str, Any]], dbname: str) -> list[PlanStep]:
    return [
        PlanStep(
            n,
            s["action"],
            s["target"],
            s.get("table"),
            s.get("phase", "transaction"),
            s["sql"].strip().replace(f'"{dbname}"', THIS_DATABASE),
        )
        for n, s in enumerate(steps, 1)
    ]


# --- the proxy's controllers ---


class Recorder(Controller):
    """Transparent; marks pgstate's work connection (the one that takes the advisory lock), notes where each
    step's statement is first seen on it, and lets a subclass act at a step, a message number or the commit."""

    def __init__(self, scenario: Scenario):
        self.lock = threading.Lock()
        self.dbname = ""  # the database of the run: its name in a statement is matched as THIS_DATABASE
        self.first_seen: dict[int, int] = {}  # step position -> client message number
        self.occurrences: dict[str, int] = {}
        self.log: list[tuple[int, bool, str]] = []  # (message number, on the work link, sql) of every link
        self.last_transaction_step_seen = False
        self.fired: str | None = None  # what the injection did, when
        self._index(scenario)

    def _index(self, scenario: Scenario) -> None:
        """Each step's statement; a step that runs something else than its statement (a payload: a restore) is
        known by what it sends first: psql's CREATE TABLE of the retired table, or the first statement on the
        work connection after the step before it."""
        self.scenario = scenario
        self.by_sql: dict[str, list[int]] = {}
        self.restores: dict[str, int] = {}  # "CREATE TABLE <name> (" -> position
        self.after: dict[int, int] = {}  # position of the step before -> position of the payload step
        for step in scenario.steps:
            if step.action == "restore-table":
                self.restores[f"CREATE TABLE {step.target} ("] = step.position
            elif step.action in PAYLOAD_ACTIONS and step.position > 1:
                self.after[step.position - 1] = step.position
            else:
                self.by_sql.setdefault(step.sql, []).append(step.position)
        self.previous: int | None = None  # the step whose statement the work link sent last

    @property
    def work_log(self) -> list[tuple[int, str]]:
        return [(number, text) for number, work, text in self.log if work]

    def rematch(self, scenario: Scenario) -> None:
        """The rollback's plan is known only after it ran: match the statements to it now."""
        self._index(scenario)
        self.first_seen, self.occurrences = {}, {}
        for number, work, text in self.log:
            self._match(number, text, work)

    def begins_before_transaction(self) -> int:
        first = min((self.first_seen[p] for p in self.scenario.transaction_steps if p in self.first_seen), default=None)
        if first is None:
            return 0
        return sum(1 for number, text in self.work_log if number < first and text.strip().upper().startswith("BEGIN"))

    def _match(self, number: int, text: str, work: bool) -> int | None:
        stripped = text.strip()
        if self.dbname:
            stripped = stripped.replace(f'"{self.dbname}"', THIS_DATABASE)
        position: int | None = None
        if not work:
            position = next((p for prefix, p in self.restores.items() if stripped.startswith(prefix)), None)
        elif stripped in self.by_sql:
            positions = self.by_sql[stripped]
            seen = self.occurrences.get(stripped, 0)
            self.occurrences[stripped] = seen + 1
            position = positions[min(seen, len(positions) - 1)]
        elif self.previous in self.after:
            position = self.after[self.previous]
        if position is None:
            return None
        if work:
            self.previous = position
        self.first_seen.setdefault(position, number)
        if position == max(self.scenario.transaction_steps, default=-1):
            self.last_transaction_step_seen = True
        return position

    def client(self, link: Link, message: Message) -> tuple[Verdict, Callable[[], None] | None]:
        step = None
        with self.lock:
            if message.sql and ("pg_try_advisory_lock" in message.sql or "pg_advisory_lock(" in message.sql):
                link.work = True
            if message.sql is not None and (link.work or message.kind == "Q"):
                self.log.append((message.number, link.work, message.sql))
                step = self._match(message.number, message.sql, link.work)
        return self.act(link, message, step)

    def act(self, link: Link, message: Message, step: int | None) -> tuple[Verdict, Callable[[], None] | None]:
        return Verdict.FORWARD, None

    def fire(self, what: str) -> bool:
        """True once: the injection happens at the first match only."""
        with self.lock:
            if self.fired is not None:
                return False
            self.fired = what
            return True


class AtStep(Recorder):
    """At step k's statement on the work connection: forward it (or not), then act."""

    def __init__(self, scenario: Scenario, position: int, verdict: Verdict, action: Callable[[Link], None] | None):
        super().__init__(scenario)
        self.position = position
        self.verdict = verdict
        self.action = action

    def act(self, link: Link, message: Message, step: int | None) -> tuple[Verdict, Callable[[], None] | None]:
        if step != self.position or not self.fire(f"step {step} (message {message.number})"):
            return Verdict.FORWARD, None
        action = self.action
        return self.verdict, (lambda: action(link)) if action is not None else None


class AtMessage(Recorder):
    """At the n-th client message of the run, over all its connections: cut that connection."""

    def __init__(self, scenario: Scenario, number: int, verdict: Verdict):
        super().__init__(scenario)
        self.number = number
        self.verdict = verdict

    def act(self, link: Link, message: Message, step: int | None) -> tuple[Verdict, Callable[[], None] | None]:
        if message.number != self.number or not self.fire(
            f"message {message.number} ({message.kind} on connection {link.number}"
            f" {link.application_name or '?'}{' work' if link.work else ''}: {(message.sql or '')[:60]!r})"
        ):
            return Verdict.FORWARD, None
        return self.verdict, None


class AtTransactionStart(Recorder):
    """Right before the work connection's transaction begins (its n-th BEGIN): run ``before`` (take a lock)."""

    def __init__(self, scenario: Scenario, before: Callable[[], None]):
        super().__init__(scenario)
        self.before = before
        self.begins = 0

    def act(self, link: Link, message: Message, step: int | None) -> tuple[Verdict, Callable[[], None] | None]:
        if link.work and message.sql is not None and message.sql.strip().upper().startswith("BEGIN"):
            with self.lock:
                self.begins += 1
                begins = self.begins
            if begins == self.scenario.work_begins_before_transaction and self.fire(
                f"BEGIN (message {message.number})"
            ):
                self.before()
        return Verdict.FORWARD, None


class AtStepBefore(Recorder):
    """Right before step k's statement is forwarded: run ``before`` (take a lock)."""

    def __init__(self, scenario: Scenario, position: int, before: Callable[[], None]):
        super().__init__(scenario)
        self.position = position
        self.before = before

    def act(self, link: Link, message: Message, step: int | None) -> tuple[Verdict, Callable[[], None] | None]:
        if step == self.position and self.fire(f"step {step} (message {message.number})"):
            self.before()
        return Verdict.FORWARD, None


class AtCommit(Recorder):
    """At the COMMIT of the work connection's transaction (after its last step): the COMMIT as it is sent
    (``client`` verdict) or the server's reply to it (``reply`` verdict and action, before it is forwarded)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        client_verdict: Verdict | None = None,
        reply_verdict: Verdict | None = None,
        reply_action: Callable[[Link], None] | None = None,
    ):
        super().__init__(scenario)
        self.client_verdict = client_verdict
        self.reply_verdict = reply_verdict
        self.reply_action = reply_action
        self.commit_sent_on: Link | None = None

    def act(self, link: Link, message: Message, step: int | None) -> tuple[Verdict, Callable[[], None] | None]:
        if not (link.work and self.last_transaction_step_seen and message.sql is not None):
            return Verdict.FORWARD, None
        if message.sql.strip().upper() != "COMMIT":
            return Verdict.FORWARD, None
        with self.lock:
            if self.commit_sent_on is not None:
                return Verdict.FORWARD, None
            self.commit_sent_on = link
        if self.client_verdict is not None and self.fire(f"COMMIT sent (message {message.number})"):
            return self.client_verdict, None
        return Verdict.FORWARD, None

    def server(self, link: Link, message: Message) -> tuple[Verdict, Callable[[], None] | None]:
        if self.reply_verdict is None or link is not self.commit_sent_on or message.kind != "C":
            return Verdict.FORWARD, None
        if message.tag != "COMMIT" or not self.fire("COMMIT's reply"):
            return Verdict.FORWARD, None
        action = self.reply_action
        return self.reply_verdict, (lambda: action(link)) if action is not None else None


def terminate(server: FaultServer, pid: int | None) -> None:
    if pid is None:
        return
    with server.connect() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])


# --- the campaign ---


def stride() -> int:
    """PGSTATE_FAULTS_STRIDE=n: every n-th step only, the quiet run and the run under pgbench taking different
    ones (with 2: the odd steps quiet, the even ones under pgbench), and 1/n of the random moments."""
    return max(1, int(os.environ.get("PGSTATE_FAULTS_STRIDE", "1")))


def injections(scenario: Scenario, mechanism: str, mode: str, sample: bool) -> list[Injection]:
    """Every injection of one mechanism into one scenario, or (``sample``) a deterministic handful."""
    every = stride()
    offset = (1 if mode == "quiet" else 0) % every

    def taken(k: int) -> bool:
        return k % every == offset

    positions = [s.position for s in scenario.steps if s.position in scenario.seen_steps and taken(s.position)]
    found: list[Injection] = []
    if mechanism == "event-trigger":
        found = [
            Injection(mechanism, f"ddl {k}/{scenario.ddl_commands}", k)
            for k in range(1, scenario.ddl_commands + 1)
            if taken(k)
        ]
    elif mechanism == "terminate":
        found = [Injection(mechanism, f"step {k}", k) for k in positions]
    elif mechanism == "lock":
        found = [Injection(mechanism, f"step {k}", k) for k in positions if lock_target(scenario.step(k)) is not None]
    elif mechanism == "commit":
        found = [Injection(mechanism, variant, 0, variant) for variant in COMMIT_VARIANTS]
    elif mechanism == "kill9":
        found = [Injection(mechanism, f"step {k}", k, "at-step") for k in positions]
        rng = seeded(f"kill9/{scenario.server.server_id}/{scenario.op}/{mode}")
        for n in range(RANDOM_KILLS // every):
            fraction = rng.uniform(0.02, 0.98)
            found.append(Injection(mechanism, f"random {n + 1} at {fraction:.0%}", 0, "random", int(fraction * 1e6)))
    elif mechanism == "cut":
        for k in positions:
            variant = "before" if (k // every) % 2 else "after"
            found.append(Injection(mechanism, f"step {k} {variant}", k, variant))
        rng = seeded(f"cut/{scenario.server.server_id}/{scenario.op}/{mode}")
        for _ in range(RANDOM_CUTS // every):
            number = rng.randint(1, max(1, scenario.messages))
            variant = rng.choice(("before", "mid", "after"))
            found.append(
                Injection(mechanism, f"random message {number}/{scenario.messages} {variant}", 0, variant, number)
            )
    elif mechanism == "restart":
        found = [Injection(mechanism, f"step {k}", k) for k in positions]
    if sample and found:
        rng = seeded(f"sample/{mechanism}/{scenario.server.server_id}/{scenario.op}/{mode}")
        found = [rng.choice(found)]
    return found


def lock_target(step: PlanStep) -> tuple[str, str] | None:
    """What a competing session locks to stop step k: its table (ACCESS EXCLUSIVE), or for a setting or an
    extension the catalog the step writes (SHARE: the step's row lock on it waits); None when there is nothing
    the transaction would not already hold by then (a function, a view)."""
    if step.action in ("set-setting", "reset-setting", "set-role-setting", "reset-role-setting"):
        return "pg_catalog.pg_db_role_setting", "SHARE"
    if step.action in ("create-extension", "drop-extension", "update-extension", "alter-extension"):
        return "pg_catalog.pg_extension", "SHARE"
    if step.table and step.action not in ("create-view", "drop-view", "replace-view", "restore-table"):
        return step.table, "ACCESS EXCLUSIVE"
    return None


def allowed_outcomes(scenario: Scenario, injection: Injection) -> set[str]:
    """The states the database may be left in. The pre-run state when pgstate survives a failure before its
    commit; after a kill or a restart, also some of the concurrently built indexes (the next apply completes
    them); after the commit, the desired state (the run's post-state)."""
    mechanism, variant = injection.mechanism, injection.variant
    phase = scenario.step(injection.step).phase if injection.step else ""
    # A rollback's restore-table steps commit one by one before its transaction (psql, like a concurrent build):
    # after a kill, a cut or a restart, the tables they brought back stay, and the next rollback goes on.
    restored = {"pre+partial"} if scenario.op == "rollback" and mechanism in ("kill9", "restart", "cut") else set()
    # A lock held for HOLD_S on a table an index was built on (concurrently, before the transaction) also keeps
    # out the DROP INDEX CONCURRENTLY that would undo the build: under a bounded wait, that build stays (the run
    # says so, and the next apply converges).
    kept = {"pre+builds"} if mechanism == "lock" and _built_on_locked_table(scenario, injection) else set()
    return _allowed(mechanism, variant, phase, injection) | restored | kept


def _built_on_locked_table(scenario: Scenario, injection: Injection) -> bool:
    target = lock_target(scenario.step(injection.step)) if injection.step else None
    return target is not None and any(
        step.action == "build-index" and step.table == target[0] and step.position < injection.step
        for step in scenario.steps
    )


def _allowed(mechanism: str, variant: str, phase: str, injection: Injection) -> set[str]:
    if mechanism == "commit":
        return {
            "deferred-trigger": {"pre"},
            "cut-before-commit": {"pre"},
            "cut-in-flight": {"pre", "post"},
        }.get(variant, {"post"})
    if phase == "maintenance":
        return {"post"}
    if mechanism == "kill9" and variant == "random":
        return {"pre", "pre+builds", "post"}
    if mechanism in ("kill9", "restart"):
        return {"pre", "pre+builds"}
    if mechanism == "cut" and not injection.step:
        return {"pre", "post"}
    return {"pre"}


@dataclass
class Armed:
    url: str
    lock_options: tuple[str, int] | None = None
    proxy: Proxy | None = None
    controller: Recorder | None = None
    holder: psycopg.Connection[Any] | None = None
    timer: threading.Timer | None = None
    process_box: list[PgstateProcess] = field(default_factory=list)
    lost_server: bool = False  # the server restarted, or a connection pgstate records with may be cut
    killed_by_controller: bool = False
    released_at: float | None = None  # when the competing lock was let go
    hold_timer: threading.Timer | None = None

    def process(self) -> PgstateProcess | None:
        return self.process_box[0] if self.process_box else None

    def disarm(self) -> None:
        """Take the fault away (once): the timer, the proxy, the lock holder."""
        for timer in (self.timer, self.hold_timer):
            if timer is not None:
                timer.cancel()
        self.timer = self.hold_timer = None
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        self.release()

    def release(self) -> None:
        if self.holder is not None:
            with contextlib.suppress(psycopg.Error):
                self.holder.rollback()
            with contextlib.suppress(psycopg.Error):
                self.holder.close()
            self.holder = None
            if self.released_at is None:
                self.released_at = time.monotonic()


def arm(scenario: Scenario, db: TestDatabase, injection: Injection) -> Armed:
    """Put the fault in place; the run starts afterwards, with the URL this returns."""
    server = scenario.server
    mechanism, k, variant = injection.mechanism, injection.step, injection.variant
    armed = Armed(db.url)

    def kill(_link: Link | None = None) -> None:
        process = armed.process()
        if process is not None:
            armed.killed_by_controller = True
            process.kill9()

    def restart(_link: Link | None = None) -> None:
        armed.lost_server = True
        server.restart_immediate()

    def with_proxy(controller: Recorder) -> None:
        controller.dbname = db.name
        armed.controller = controller
        armed.proxy = Proxy(server.socket_path, controller)
        armed.url = armed.proxy.url(db.name)

    if mechanism == "event-trigger":
        install_event_trigger(db, k)
    elif mechanism == "terminate":
        with_proxy(AtStep(scenario, k, Verdict.FORWARD, lambda link: terminate(server, link.backend_pid)))
    elif mechanism == "lock":
        target, mode = lock_target(scenario.step(k)) or ("", "")
        armed.lock_options = FAST_LOCKS

        def take_lock() -> None:
            holder = psycopg.connect(db.url, application_name=HARNESS_APP)
            armed.holder = holder
            holder.execute("SET lock_timeout = '20s'")  # pgbench's transactions are short; pgstate holds none yet
            holder.execute(f"LOCK TABLE {target} IN {mode} MODE".encode())
            armed.hold_timer = threading.Timer(HOLD_S, armed.release)
            armed.hold_timer.daemon = True
            armed.hold_timer.start()

        if scenario.step(k).phase == "transaction":
            with_proxy(AtTransactionStart(scenario, take_lock))
        else:
            with_proxy(AtStepBefore(scenario, k, take_lock))
    elif mechanism == "commit":
        if variant == "deferred-trigger":
            install_commit_trigger(db)
        elif variant == "cut-before-commit":
            with_proxy(AtCommit(scenario, client_verdict=Verdict.CUT_BEFORE))
        elif variant == "cut-in-flight":
            with_proxy(AtCommit(scenario, client_verdict=Verdict.CUT_AFTER))
        elif variant == "cut-after-reply":
            with_proxy(AtCommit(scenario, reply_verdict=Verdict.CUT_BEFORE))
        elif variant == "terminate-after-reply":
            with_proxy(
                AtCommit(
                    scenario,
                    reply_verdict=Verdict.FORWARD,
                    reply_action=lambda link: terminate(server, link.backend_pid),
                )
            )
        elif variant == "kill-after-reply":
            with_proxy(AtCommit(scenario, reply_verdict=Verdict.CUT_BEFORE, reply_action=kill))
        elif variant == "restart-after-reply":
            with_proxy(AtCommit(scenario, reply_verdict=Verdict.CUT_BEFORE, reply_action=restart))
    elif mechanism == "kill9":
        if variant == "at-step":
            with_proxy(AtStep(scenario, k, Verdict.FORWARD, kill))
        else:
            delay = scenario.seconds * injection.seed / 1e6
            armed.timer = threading.Timer(delay, kill)
    elif mechanism == "cut":
        verdict = {"before": Verdict.CUT_BEFORE, "mid": Verdict.CUT_MID, "after": Verdict.CUT_AFTER}[variant]
        with_proxy(AtStep(scenario, k, verdict, None) if k else AtMessage(scenario, injection.seed, verdict))
        # A cut at a step or at the commit takes the connection that runs the steps; the one pgstate records the
        # run with stays, so the record must be finished. A cut at a random message may take that one.
        armed.lost_server = not k
    elif mechanism == "restart":
        with_proxy(AtStep(scenario, k, Verdict.FORWARD, restart))
    return armed


def reproduction(scenario: Scenario, mode: str, injection: Injection) -> str:
    name = f"{scenario.server.server_id}/{scenario.op}/{mode}/{injection.mechanism}/{injection.label}"
    return (
        f"PGSTATE_FAULTS=all PGSTATE_FAULTS_ONLY='{name}' .venv/bin/pytest -p no:cacheprovider"
        " --basetemp=/tmp/faults-pt -n 1 -q -s tests/faults"
    )


def run_injection(scenario: Scenario, mode: str, injection: Injection) -> Result:
    """One injection: a fresh copy of the template, the fault armed, the run (with pgbench writing, in mode
    pgbench), then every check, and a fresh run that must converge."""
    started = time.monotonic()
    result = Result(scenario.server.server_id, scenario.op, mode, injection.mechanism, injection.label, held=False)
    result.reproduce = reproduction(scenario, mode, injection)
    db = scenario.fresh(injection.mechanism)
    work = scenario.work_dir / db.name
    skip_rows = PGBENCH_TABLES if mode == "pgbench" else ()
    problems: list[str] = []
    bench: Pgbench | None = None
    armed: Armed | None = None
    try:
        armed = arm(scenario, db, injection)
        if mode == "pgbench":
            bench = Pgbench(scenario.server, db, work, scenario.divisor)
            bench.wait_started()
        options = armed.lock_options or (None, None)
        argv = pgstate_argv(scenario.op, armed.url, work / "backups", lock_timeout=options[0], retries=options[1])
        process = PgstateProcess(argv, work)
        armed.process_box.append(process)
        if armed.timer is not None:
            armed.timer.start()
        done = process.wait()
        fired = armed.controller.fired if armed.controller is not None else None
        proxy_errors = list(armed.proxy.errors) if armed.proxy is not None else []
        armed.disarm()
        problems += [f"harness error in the proxy: {e[:600]}" for e in proxy_errors]
        if bench is not None:
            bench.stop()
            bench = None
        result.exit_code = done.exit_code
        injected = _injected(injection, done, fired, db)
        result.injected = injected
        result.effective_step = fired or _failed_step(db)
        if done.hung:
            problems.append(f"pgstate did not finish within {done.seconds:.0f}s (killed)")
        elif armed.released_at is not None and process.ended is not None and process.ended > armed.released_at:
            problems.append(
                f"pgstate was still running when the competing lock was released after {HOLD_S:.0f}s: it waited"
                " for the lock without a bound (not under --lock-timeout), and went on only once it was gone"
            )
        if not injected:
            result.notes.append("not injected: the run got past the point, or never reached it")
            if armed.controller is not None:
                tail = armed.controller.work_log[-6:]
                result.notes.append(
                    "last statements on the work connection: " + " | ".join(f"#{n} {t[:50]}" for n, t in tail)
                )
        left = wait_until_quiet(db)
        if left:
            problems.append("sessions left after the run: " + "; ".join(left))
        with contextlib.suppress(psycopg.Error):
            remove_fault_objects(db)
        after = observe(db, skip_rows=skip_rows)
        outcome, details = classify(after, scenario.pre, scenario.post, scenario.builds)
        result.outcome = outcome
        expected = allowed_outcomes(scenario, injection) if injected else {"post"}
        if outcome not in expected:
            problems.append(f"the database is {outcome!r}, expected one of {sorted(expected)}")
            problems.extend(details)
        committed = outcome in ("post", "post-builds")
        reference = scenario.post if committed else scenario.pre
        if outcome == "pre+partial":
            # The tables a rollback restored before it died hold what the successful rollback gives back.
            reference = Reference(
                reference.catalog,
                {
                    **reference.rows,
                    **{table: rows for table, rows in scenario.post.rows.items() if table not in reference.rows},
                },
            )
        problems += compare_rows(after, reference, skip_rows)
        allowed_left = (
            scenario.builds
            if (done.killed or (armed.lost_server and injection.mechanism == "restart"))
            else frozenset()
        )
        for name, what in after.leftovers:
            if name not in allowed_left or outcome not in ("pre+builds",):
                problems.append(f"left behind: {what} {name}")
        if after.prepared:
            problems.append(f"{after.prepared} prepared transaction(s) left")
        problems += _exit_problems(done, outcome, injected)
        facts = RecordFacts(
            # 'pre+partial': steps outside the transaction left what they made (a restored table): as with builds
            outcome="post" if committed else "pre+builds" if outcome in ("pre+builds", "pre+partial") else "pre",
            killed=done.killed or done.hung,
            lost_server=armed.lost_server,
            transaction_steps=scenario.transaction_steps,
            outside_steps=scenario.outside_steps,
        )
        checked = time.monotonic()
        converge_problems, after_next = converge(scenario, db, work, skip_rows)
        problems += converge_problems
        record_problems, result.record = check_run_record(facts, scenario.baseline_run, after, after_next)
        problems += record_problems
        result.notes.append(f"stderr: {done.stderr.strip()[-(600 if not problems else 4000) :]}")
        result.notes.append(
            f"seconds: run {done.seconds:.1f}, checks {checked - started - done.seconds:.1f},"
            f" convergence {time.monotonic() - checked:.1f}"
        )
    except Exception as error:  # the harness itself failed: say so, as a failure of this injection
        problems.append(f"harness error: {type(error).__name__}: {error}")
    finally:
        if armed is not None:
            armed.disarm()
        if bench is not None:
            bench.stop()
        with contextlib.suppress(Exception):
            drop_database(scenario.server, db)
        shutil.rmtree(work, ignore_errors=True)
    result.problems = problems
    result.held = not problems
    result.seconds = time.monotonic() - started
    return result


def _failed_step(db: TestDatabase) -> str:
    """The step the record says failed, if any (where a fault without a proxy took effect)."""
    with (
        contextlib.suppress(psycopg.Error),
        harness_connect(db) as conn,
    ):
        row = conn.execute(
            "SELECT position || ' ' || action || ' ' || target FROM pgstate.run_steps WHERE status = 'failed'"
            " ORDER BY run_id DESC, position LIMIT 1"
        ).fetchone()
        return f"failed at step {row[0]}" if row else ""
    return ""


def _injected(injection: Injection, done: Finished, fired: str | None, db: TestDatabase) -> bool:
    if injection.mechanism == "event-trigger":
        return "pgstate-faults: injected failure at DDL" in done.stderr or done.exit_code != 0
    if injection.mechanism == "commit" and injection.variant == "deferred-trigger":
        return done.exit_code != 0
    if injection.mechanism == "kill9" and injection.variant == "random":
        return done.killed
    return fired is not None


def _exit_problems(done: Finished, outcome: str, injected: bool) -> list[str]:
    if done.killed or done.hung:
        return []
    if not injected:
        return [] if done.exit_code == 0 else [f"exit {done.exit_code} without a fault: {done.stderr.strip()[-300:]}"]
    if done.exit_code == 0 and outcome != "post":
        return ["pgstate exited 0, but the run did not take effect"]
    if done.exit_code not in (0, 1):
        return [f"pgstate exited {done.exit_code} (expected 1 for a failed run): {done.stderr.strip()[-300:]}"]
    if "internal error" in done.stderr or "Traceback" in done.stderr:
        return [f"pgstate reported an internal error: {done.stderr.strip()[-300:]}"]
    return []


def converge(
    scenario: Scenario, db: TestDatabase, work: Path, skip_rows: tuple[str, ...]
) -> tuple[list[str], Observed | None]:
    """A fresh run of the same verb must succeed; after it the database is the desired state (the post-state of
    the calibration run), with no leftover, and for the apply, ``plan`` has no step and ``drift`` finds nothing."""
    problems: list[str] = []
    argv = pgstate_argv(scenario.op, db.url, work / "again-backups")
    run = run_pgstate_inprocess(argv[3:])  # in this process: no interpreter start, the run is not the fault's
    code, out, err = run.exit_code, run.stdout, run.stderr
    if code != 0:
        problems.append(f"the next {scenario.op} failed (exit {code}): {(err or out).strip()[-400:]}")
    if scenario.op == "apply" and code == 0:
        common = ["--desired", str(_desired()), "--database-url", db.url]
        plan = run_pgstate_inprocess(["plan", *common])
        if plan.exit_code != 0:
            problems.append(f"plan after the next apply: exit {plan.exit_code}: {plan.stdout.strip()[-300:]}")
        drift = run_pgstate_inprocess(["drift", *common])
        if drift.exit_code != 0:
            problems.append(f"drift after the next apply: exit {drift.exit_code}: {drift.stdout.strip()[-300:]}")
    after = observe(db, skip_rows=skip_rows)
    if code == 0:
        unlike = differences(scenario.post.catalog, after.catalog)
        if unlike:
            problems.append("after the next run, the database is not the desired state")
            problems.extend(f"  {d[:300]}" for d in unlike[:8])
        problems += [f"after the next run, {p}" for p in compare_rows(after, scenario.post, skip_rows)]
    for name, what in after.leftovers:
        problems.append(f"after the next run, left behind: {what} {name}")
    return problems, after


# --- the session's servers and scenarios ---

DEFAULT_DIVISOR = 10


def divisor() -> int:
    """PGSTATE_FAULTS_SCALE: the seed's row counts are divided by it (1: the seed app as it is)."""
    return max(1, int(os.environ.get("PGSTATE_FAULTS_SCALE", str(DEFAULT_DIVISOR))))


class Campaign:
    def __init__(self, base: Path):
        self.base = base
        self.servers: dict[str, FaultServer] = {}
        self.templates: dict[str, str] = {}
        self.scenarios: dict[tuple[str, str], Scenario] = {}
        self.results = results_dir(base / "results")

    def server(self, server_id: str) -> FaultServer:
        if server_id not in self.servers:
            bin_dir = server_bin_dir(server_id)
            if bin_dir is None:
                pytest.skip(PG15_MISSING)
            server = FaultServer.start(server_id, bin_dir, self.base / f"server-{server_id}" / "data")
            self.servers[server_id] = server
            self.templates[server_id] = seed_template(server, divisor())
        return self.servers[server_id]

    def scenario(self, server_id: str, op: str) -> Scenario:
        key = (server_id, op)
        if key not in self.scenarios:
            server = self.server(server_id)
            work = self.base / f"work-{server_id}-{op}"
            work.mkdir(parents=True, exist_ok=True)
            template = self.templates[server_id]
            if op == "rollback":
                template = applied_template(server, template, work)
            scenario = Scenario(server, op, template, work, divisor())
            calibrate(scenario)
            self.scenarios[key] = scenario
        return self.scenarios[key]

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()
