"""A plan saved with ``plan --out``, read back for ``pgstate show``: the same Plan the renderers take, built from
the JSON alone (no database). Its steps' SQL is the text the plan printed, shown as it is and never run: ``apply
--plan`` makes a fresh plan and only compares it with the saved one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from psycopg import sql

from ..errors import PgstateError, Refused, SourceLocation
from ..model.keys import ObjectKey
from ..model.state import LiveState, ServerFacts
from ..model.tables import TableSize
from .plan import PLAN_FORMAT, Plan
from .refusals import Refusal
from .steps import Action, Hazard, Lock, Phase, Step


def read_saved_plan(path: Path) -> Plan:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PgstateError(f"cannot read {path}: {error}", hint="make it with `pgstate plan --out FILE`") from None
    if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
        raise PgstateError(
            f"{path} is not a saved pgstate plan (its format is not {PLAN_FORMAT})",
            hint="make it with `pgstate plan --out FILE`",
        )
    try:
        steps = tuple(_step(step) for step in document["steps"])
        refusals = tuple(_refusal(refusal) for refusal in document.get("refusals", []))
        server_version = int(document["server_version"])
        live = LiveState(ServerFacts(server_version, "", ""), {}, {})
        plan = Plan(
            steps,
            live,
            server_version,
            str(document["lock_timeout"]),
            tuple(str(notice) for notice in document.get("notices", [])),
            refusals,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PgstateError(
            f"{path} is not a whole saved plan: {type(error).__name__} {error}",
            hint="make it again with `pgstate plan --out FILE`",
        ) from None
    plan.__dict__["fingerprint"] = str(document["fingerprint"])  # as saved: there is no live state to digest
    return plan


def _step(data: dict[str, Any]) -> Step:
    def size(value: Any) -> TableSize | None:
        return None if value is None else TableSize(int(value["rows"]), int(value["bytes"]))

    return Step(
        action=Action(data["action"]),
        subject=ObjectKey.from_json(data["subject"]),
        statement=sql.SQL(data["sql"]),  # the text the plan printed: shown, never executed
        lock=Lock(data["lock"]),
        phase=Phase[str(data["phase"]).upper()],
        summary=str(data["summary"]),
        table=_table(data.get("table")),
        location=_location(data.get("location")),
        rewrites=size(data.get("rewrites")),
        destroys=size(data.get("destroys")),
        hazards=tuple(Hazard(hazard) for hazard in data.get("hazards", [])),
    )


def _refusal(data: dict[str, Any]) -> Refusal:
    error = Refused(str(data["message"]), hint=data.get("hint"), location=_location(data.get("location")))
    step = _step(data["step"]) if data.get("step") else None
    subject = ObjectKey.from_json(data["subject"]) if data.get("subject") else step.subject if step else None
    if subject is None:
        subject = ObjectKey(str(data.get("kind", "")), (str(data.get("target", "")),), str(data.get("target", "")))
    return Refusal(subject, error, step)


def _table(label: str | None) -> Any:
    if not label:
        return None
    from ..source.export import parse_table_argument

    return parse_table_argument(label)


def _location(text: str | None) -> SourceLocation | None:
    if not text:
        return None
    file, line, column = str(text).rsplit(":", 2)
    return SourceLocation(file, int(line), int(column))
