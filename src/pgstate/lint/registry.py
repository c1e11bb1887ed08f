"""The lint rules by id. Registering an id twice fails at import, so two rules can never answer to one id."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .base import Hit, Severity
from .context import LintContext

Check = Callable[[LintContext], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity  # the usual severity; a hit may raise or lower it (e.g. definer functions are errors)
    description: str  # one line, for `--help`-like listings and docs
    check: Check


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity, description: str) -> Callable[[Check], Check]:
    """Registers the decorated function as the check of rule ``rule_id``."""

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise RuntimeError(f"lint rule {rule_id!r} registered twice")
        RULES[rule_id] = Rule(rule_id, severity, description, check)
        return check

    return register
