"""The plan as a pull-request comment: what a reviewer reads before approving a change to the database.

Written for GitHub's comment column (about 780 px): lists, never wide tables. In order:

1. one summary line ("3 to add, 2 to change, 1 to destroy, 1 refused"), and a line for each kind of step that
   ``apply`` will not run without an option or at all (data loss, authorization, refused);
2. the steps, one line each saying what changes (the summary the kind wrote: old type -> new type, the index's
   columns, the policy's command and roles, what a retirement drops), the hazards that need an option marked
   and in bold; refused steps in the same list, with why and what to do;
   with a base revision, split into the steps the pull request's own changes cause and the ones that were
   already different before it (report/changes.py says which are which);
3. the lint findings, when asked for: a lint error never stops the plan from being posted;
4. notices, the desired files changed since the base (folded), and the SQL (folded).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from ..planning.plan import Plan
from ..planning.refusals import Refusal
from ..planning.steps import DROPPING, Action, Hazard, Step
from .changes import desired_changes_markdown, split_by_changes
from .plan import plan_sql

if TYPE_CHECKING:
    from ..lint import LintFinding
    from ..source.changes import ObjectChange

DATA_LOSS_MARK = "⚠️"
AUTHZ_MARK = "🔓"
REFUSED_MARK = "🚫"
LINT_ERROR_MARK = "❌"

AUTHZ = frozenset({Hazard.AUTHZ_WIDENING, Hazard.AUTHZ_CHANGED})

# What each hazard means, in a few words; the lock is shown on its own.
HAZARD_WORDS: dict[Hazard, str | None] = {
    Hazard.TABLE_REWRITE: None,  # shown with the table's size
    Hazard.ACCESS_EXCLUSIVE_LOCK: None,
    Hazard.BLOCKS_WRITES: "writes wait for the build",
    Hazard.INDEX_DROPPED: "queries that used it may slow down",
    Hazard.UNIQUE_MAY_FAIL: "fails if the table holds duplicates",
    Hazard.INDEX_REBUILD: "rebuilds the column's indexes",
    Hazard.DATA_LOSS: "destroys data",
    Hazard.AUTHZ_WIDENING: "widens who can see or change rows",
    Hazard.AUTHZ_CHANGED: "changes who can see or change rows",
}

CREATING = frozenset(
    {
        Action.BUILD_INDEX,
        Action.CREATE_INDEX,
        Action.ATTACH_INDEX,
        Action.CREATE_FUNCTION,
        Action.CREATE_VIEW,
        Action.CREATE_POLICY,
        Action.CREATE_EXTENSION,
    }
)
# Resetting a setting or a storage parameter takes a value away, and the object stays: a change.
DESTROYING = DROPPING - {Action.RESET_STORAGE, Action.RESET_SETTING, Action.RESET_ROLE_SETTING}
MAINTENANCE = frozenset({Action.REINDEX_INDEX, Action.VACUUM_TABLE, Action.ANALYZE_TABLE})


def plan_comment(
    plan: Plan,
    conn: psycopg.Connection[Any] | None,
    *,
    base: str | None = None,
    changes: Sequence[ObjectChange] | None = None,
    lint: Sequence[LintFinding] | None = None,
) -> str:
    """The comment; ``changes`` (since ``base``) splits the steps, ``lint`` adds the findings (None: not linted)."""
    lines = ["### pgstate plan", ""]
    tally = Tally(plan)
    headline = f"**{tally.summary()}**" if plan.differs else "**No changes**: the database matches the desired state."
    if lint is not None:
        headline += f" · {_lint_summary(lint)}"
    lines += [headline, ""]
    lines += _gate_lines(plan)
    if changes is None:
        if plan.differs:
            lines += _section(None, plan.steps, plan.refusals, tally)
    elif plan.differs:
        split = split_by_changes(plan.steps, plan.refusals, changes)
        lines += _section("From this pull request", split.ours, split.ours_refused, tally, empty="no steps")
        lines += _section(
            "Already different before this pull request",
            split.before,
            split.before_refused,
            tally,
            empty="none: everything else matches the desired files",
            note="Drift, or changes merged and not applied yet: not caused by this pull request, applied with it.",
        )
    if lint is not None:
        lines += _lint_section(lint)
    lines += [f"> **Notice:** {_prose(notice)}" for notice in plan.notices]
    if plan.notices:
        lines.append("")
    if changes is not None and base is not None:
        lines += _folded(
            f"Desired files changed since <code>{_html(base)}</code> ({len(changes)})",
            [desired_changes_markdown(changes, base).rstrip()],
        )
    if plan.steps:
        lines += _folded(
            f"SQL ({len(plan.steps)} statement{'s' if len(plan.steps) != 1 else ''})",
            ["```sql", plan_sql(plan, conn).rstrip(), "```"],
        )
    return "\n".join(lines).rstrip("\n") + "\n"


class Tally:
    """What each step does to the desired state, counted: added, changed, destroyed, maintenance, refused. A step
    that drops an object the plan makes again, or makes one it drops (a replaced index, a policy created again
    around a type change), is a change."""

    def __init__(self, plan: Plan) -> None:
        self._made = {key for step in plan.steps for key in step.makes}
        self._dropped = {step.subject for step in plan.steps if step.action in DROPPING}
        self.counts = _count(self, plan.steps)
        self.refused = len(plan.refusals)

    def category(self, step: Step) -> str:
        if step.action in MAINTENANCE:
            return "maintenance"
        if step.action in DESTROYING:
            return "change" if step.subject in self._made else "destroy"
        if step.action in CREATING:
            return "change" if step.subject in self._dropped or not step.makes_subject else "add"
        return "change"

    def summary(self, steps: Sequence[Step] | None = None, refusals: int | None = None) -> str:
        counts = self.counts if steps is None else _count(self, steps)
        refused = self.refused if refusals is None else refusals
        parts = [f"{counts['add']} to add", f"{counts['change']} to change", f"{counts['destroy']} to destroy"]
        if counts["maintenance"]:
            parts.append(f"{counts['maintenance']} maintenance")
        if refused:
            parts.append(f"{refused} refused")
        return ", ".join(parts)


def _count(tally: Tally, steps: Sequence[Step]) -> dict[str, int]:
    counts = {"add": 0, "change": 0, "destroy": 0, "maintenance": 0}
    for step in steps:
        counts[tally.category(step)] += 1
    return counts


def _gate_lines(plan: Plan) -> list[str]:
    """A line for each thing apply stops at: steps that destroy data or touch access (they need an option), and
    refused steps (nothing runs while one is left)."""
    lossy = [step for step in plan.steps if Hazard.DATA_LOSS in step.hazards]
    authz = [step for step in plan.steps if AUTHZ & set(step.hazards)]
    lines = []
    if lossy:
        lines.append(
            f"{DATA_LOSS_MARK} **{_steps(len(lossy), 'destroys', 'destroy')} data**: the rows are dumped and the dump"
            " verified first; `apply` needs `--allow-destructive`."
        )
    if authz:
        lines.append(
            f"{AUTHZ_MARK} **{_steps(len(authz), 'changes', 'change')} who can see or change rows**: `apply` needs"
            " `--allow-authz-widening`."
        )
    if plan.refusals:
        lines.append(
            f"{REFUSED_MARK} **{_steps(len(plan.refusals), 'is', 'are')} refused**: `apply` refuses the whole plan"
            " (exit 3) until resolved; the other steps are listed as they would run."
        )
    # One paragraph, a line each: a trailing backslash is a hard line break.
    return ["\\\n".join(lines), ""] if lines else []


def _steps(count: int, one: str, many: str) -> str:
    """``1 step destroys``, ``2 steps destroy``."""
    return f"{count} step {one}" if count == 1 else f"{count} steps {many}"


def _section(
    title: str | None,
    steps: Sequence[Step],
    refusals: Sequence[Refusal],
    tally: Tally,
    *,
    empty: str = "",
    note: str = "",
) -> list[str]:
    lines = []
    if title is not None:
        counts = f" · {tally.summary(steps, len(refusals))}" if steps or refusals else ""
        lines += [f"#### {title}{counts}", ""]
        if not steps and not refusals:
            return [*lines, f"_{empty}_", ""]
        if note:
            lines += [f"_{note}_", ""]
    lines += [_step_line(step) for step in steps]
    lines += [_refusal_line(refusal) for refusal in refusals]
    return [*lines, ""]


def _step_line(step: Step) -> str:
    """``- marker **action** `object`: what changes``, then a small line: size, hazards, lock, where declared."""
    hazards = set(step.hazards)
    mark = DATA_LOSS_MARK if Hazard.DATA_LOSS in hazards else AUTHZ_MARK if hazards & AUTHZ else ""
    gated = [HAZARD_WORDS[h] for h in step.hazards if h is Hazard.DATA_LOSS or h in AUTHZ]
    head = f"- {mark + ' ' if mark else ''}**{_action(step.action)}** {_code(step.target)}: {_text(step.summary)}"
    if gated:
        head += " — " + ", ".join(f"**{words}**" for words in gated)
    return head + f"<br><sub>{_details(step)}</sub>"


def _details(step: Step) -> str:
    parts = []
    if step.rewrites is not None:
        parts.append(f"**rewrites the table**: {_text(step.rewrites.describe())}")
    if step.destroys is not None:
        parts.append(f"drops {_text(step.destroys.describe())}")
    parts += [
        words for h in step.hazards if (words := HAZARD_WORDS[h]) and h is not Hazard.DATA_LOSS and h not in AUTHZ
    ]
    lock = "no lock" if str(step.lock) == "none" else f"{step.lock} lock"
    parts.append(lock + ("" if step.transactional else ", outside the transaction"))
    if step.location is not None:
        parts.append(_code(str(step.location)))
    return " · ".join(parts)


def _refusal_line(refusal: Refusal) -> str:
    error = refusal.error
    if refusal.step is not None:
        head = f"- {REFUSED_MARK} **refused: {_action(refusal.step.action)}** {_code(refusal.target)}:"
        head += f" {_text(refusal.step.summary)}"
    else:
        head = f"- {REFUSED_MARK} **refused: change of** {_code(refusal.target)}"
    why = f"<br>**Why:** {_prose(error.message)}"
    where = error.location or (refusal.step.location if refusal.step is not None else None)
    small = [f"hint: {_prose(error.hint)}"] if error.hint else []
    if where is not None:
        small.append(_code(str(where)))
    return head + why + (f"<br><sub>{' · '.join(small)}</sub>" if small else "")


def _lint_summary(findings: Sequence[LintFinding]) -> str:
    text = f"lint: {_lint_counts(findings)}"
    return f"{LINT_ERROR_MARK} **{text}**" if _lint_errors(findings) else text


def _lint_counts(findings: Sequence[LintFinding]) -> str:
    errors = _lint_errors(findings)
    warnings = len(findings) - errors
    return f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}"


def _lint_errors(findings: Sequence[LintFinding]) -> int:
    from ..lint import Severity

    return sum(finding.severity is Severity.ERROR for finding in findings)


def _lint_section(findings: Sequence[LintFinding]) -> list[str]:
    from ..lint import Severity

    lines = [f"#### Lint · {_lint_counts(findings)}", ""]
    if not findings:
        return [*lines, "_no findings_", ""]
    for finding in sorted(findings, key=lambda f: f.severity is not Severity.ERROR):  # errors first, stable
        error = finding.severity is Severity.ERROR
        label = f"{LINT_ERROR_MARK} **error**" if error else "warning"
        line = f"- {label} `{finding.rule}` {_code(finding.target)}: {_prose(finding.message)}"
        small = [f"hint: {_prose(finding.hint)}"]
        if finding.location is not None:
            small.append(_code(str(finding.location)))
        lines.append(line + f"<br><sub>{' · '.join(small)}</sub>")
    return [*lines, ""]


def _folded(summary: str, body: list[str]) -> list[str]:
    return [f"<details><summary>{summary}</summary>", "", *body, "", "</details>", ""]


def _action(action: Action) -> str:
    return str(action).replace("-", " ")


# Characters markdown (GitHub's) could take for markup in text from the desired files or the database: policy
# expressions hold `*`, `_`, `<`, `|`. A backslash before any ASCII punctuation shows it as it is.
_MARKUP = str.maketrans({char: "\\" + char for char in "\\`*_[]<>|~&#"})


def _text(text: str) -> str:
    return text.replace("\n", " ").translate(_MARKUP)


def _prose(text: str) -> str:
    """pgstate's own sentences (messages, hints, notices), whose `code spans` stay code: the rest is escaped as
    ``_text`` does (it quotes names and values from the desired files and the database)."""
    parts = _CODE_SPAN.split(text.replace("\n", " "))
    return "".join(part if number % 2 else part.translate(_MARKUP) for number, part in enumerate(parts))


_CODE_SPAN = re.compile(r"(`[^`]+`)")


def _code(text: str) -> str:
    """Inline code, whatever backticks ``text`` holds: a fence longer than its longest run of them."""
    text = text.replace("\n", " ")
    fence = "`" * (_longest_backtick_run(text) + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
