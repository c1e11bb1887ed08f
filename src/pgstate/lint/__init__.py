"""``pgstate lint``: rules over the desired state, the live managed objects and the plan.

Each rule (see ``RULES``) has an id, a severity and a one-line description; a finding names the object, where
it was declared (``file:line:col``) and how to fix it. A document silences rules for what it declares with
``lint: {ignore: [rule-id, ...]}``. Exit 1 when any error remains (:func:`has_errors`), 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import SourceLocation
from . import rules as _rules  # noqa: F401  # importing the rules registers them
from .base import LintFinding, LintInput, Severity
from .context import LintContext
from .facts import ForeignKey, LintFacts, read_lint_facts
from .locate import Locator, Silencer
from .registry import RULES, Rule
from .render import render_json, render_text

__all__ = [
    "RULES",
    "ForeignKey",
    "LintFacts",
    "LintFinding",
    "LintInput",
    "Rule",
    "Severity",
    "has_errors",
    "read_lint_facts",
    "render_json",
    "render_text",
    "run_lint",
]


def run_lint(inp: LintInput, facts: LintFacts | None, levels: Mapping[str, str] | None = None) -> list[LintFinding]:
    """Every rule's findings, silenced ones removed, sorted by location (unlocated last), then rule and target.

    ``facts`` is None when no database was reachable: rules that need the catalog then report nothing.
    ``levels`` (pgstate.toml's ``[lint.rules]``) sets a rule's every finding to ``error`` or ``warning``, or turns
    the rule ``off``; a document's ``lint: {ignore: [...]}`` still silences what it declares.
    """
    levels = levels or {}
    context = LintContext(inp, facts, Locator(inp.documents))
    silencer = Silencer(inp.documents)
    findings = [
        LintFinding(
            rule.id,
            Severity(levels[rule.id]) if rule.id in levels else hit.severity or rule.severity,
            hit.target,
            hit.message,
            hit.hint,
            hit.location,
        )
        for rule in RULES.values()
        if levels.get(rule.id) != "off"
        for hit in rule.check(context)
    ]
    return sorted((f for f in findings if not silencer.silenced(f)), key=_order)


def has_errors(findings: Sequence[LintFinding]) -> bool:
    return any(finding.severity is Severity.ERROR for finding in findings)


def _order(finding: LintFinding) -> tuple[bool, str, int, int, str, str, str]:
    location = finding.location or SourceLocation("", 0, 0)
    return (
        finding.location is None,
        location.file,
        location.line,
        location.column,
        finding.rule,
        finding.target,
        finding.message,
    )
