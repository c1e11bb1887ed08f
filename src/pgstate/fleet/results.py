"""One target's result, as a fleet job leaves it for ``pgstate fleet-report`` (``--result FILE`` of plan, drift
and apply): which target, what the verb found, and a fingerprint of it, so that targets with the same drift can
be told to be the same without comparing their reports.

The file is written also when the verb fails (``cli`` writes a failed result with the error's message): a job
that fails must still report. It never holds a URL or a password: the database is named as ``describe`` names it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PgstateError

FORMAT = "pgstate-result/1"
IN_SYNC = "in-sync"  # nothing differs (or an apply converged)
DRIFT = "drift"  # differences found (drift, or a plan with steps)
FAILED = "failed"  # an error: the target's state is unknown
REFUSED = "refused"  # apply would not run (a standby, a stale plan, a destructive step not allowed)
STATUSES = (IN_SYNC, DRIFT, FAILED, REFUSED)
# What a finding says for people, which may name the one database's facts (when it was last analyzed): shown, and
# left out of the fingerprint.
SAID = frozenset({"message"})


@dataclass(frozen=True)
class TargetResult:
    target: str
    verb: str
    status: str
    exit_code: int
    wave: str | None = None
    role: str | None = None
    database: str | None = None  # as connection.describe says: database, host, user; never a password
    at: float = field(default_factory=time.time)
    findings: list[dict[str, Any]] = field(default_factory=list)  # what differs, each as {"kind", "object", ...}
    error: str | None = None
    run_id: int | None = None
    replicas: list[dict[str, Any]] = field(default_factory=list)  # apply: each standby's replay after the run

    @property
    def fingerprint(self) -> str | None:
        """The same for two targets whose findings are the same (in any order), None in sync or failed. What
        a finding says of the one database (its name, its oids, when) is not in the findings."""
        if self.status != DRIFT:
            return None
        canonical = sorted(
            json.dumps({key: value for key, value in finding.items() if key not in SAID}, sort_keys=True, default=str)
            for finding in self.findings
        )
        return hashlib.sha256("\n".join(canonical).encode("utf-8")).hexdigest()[:12]

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self), "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, data: Any, source: str) -> TargetResult:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise PgstateError(
                f"{source} is not a pgstate result file ({FORMAT})",
                hint="write them with `pgstate drift --result FILE` (or plan, apply)",
            )
        try:
            result = cls(
                target=str(data["target"]),
                verb=str(data["verb"]),
                status=str(data["status"]),
                exit_code=int(data["exit_code"]),
                wave=data.get("wave"),
                role=data.get("role"),
                database=data.get("database"),
                at=float(data.get("at") or 0.0),
                findings=list(data.get("findings") or []),
                error=data.get("error"),
                run_id=data.get("run_id"),
                replicas=list(data.get("replicas") or []),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PgstateError(f"{source}: a result file without a valid {error}") from None
        if result.status not in STATUSES:
            raise PgstateError(f"{source}: unknown status {result.status!r}")
        return result


def write_result(path: Path, result: TargetResult) -> None:
    from ..report.drift_formats import write_atomically

    if path.parent != Path():
        path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(result.to_json(), indent=2, sort_keys=True, default=str) + "\n")


def read_results(paths: list[Path]) -> list[TargetResult]:
    """The results in the files given, and in the ``*.json`` files of the directories given (recursively: CI
    downloads each job's artifact into a directory of its own)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.rglob("*.json"))
        elif path.is_file():
            files.append(path)
        else:
            raise PgstateError(f"{path} does not exist", hint="give result files or the directory they are in")
    results = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise PgstateError(f"{file} is not JSON: {error}") from None
        results.append(TargetResult.from_json(data, str(file)))
    return results


def finding_item(finding: Any) -> dict[str, Any]:
    """A drift finding as a result holds it: what differs and how, not where it was declared or when."""
    return {
        "kind": finding.object_kind,
        "object": finding.target,
        "finding": finding.finding,
        "desired": finding.desired,
        "live": finding.live,
        "message": finding.message,
    }


def step_item(step: Any) -> dict[str, Any]:
    """A plan's step as a result holds it."""
    return {
        "kind": step.subject.kind,
        "object": str(step.subject),
        "finding": str(step.action.value),
        "message": step.summary,
    }
