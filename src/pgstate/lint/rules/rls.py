"""Rules on a table's row-level security flag against its policies."""

from __future__ import annotations

from collections.abc import Iterator

from ..base import Hit, Severity
from ..context import LintContext
from ..registry import rule


@rule(
    "policy-exists-rls-disabled",
    Severity.ERROR,
    "a table has policies but row-level security is off: they do nothing",
)
def policies_without_rls(ctx: LintContext) -> Iterator[Hit]:
    for subject in ctx.tables:
        rls, policies = subject.rls, subject.policies
        if rls is not None and not rls.enabled and policies:
            yield Hit(
                str(subject.name),
                f"has {len(policies)} polic{'y' if len(policies) == 1 else 'ies'} but row-level security is"
                " disabled: every role with a grant sees and changes every row",
                "enable it: `rls: {enabled: true}`",
                subject.location,
            )


@rule(
    "rls-enabled-no-policy",
    Severity.WARNING,
    "row-level security is on but the table has no policy: every row is hidden from all but the owner",
)
def rls_without_policies(ctx: LintContext) -> Iterator[Hit]:
    for subject in ctx.tables:
        rls, policies = subject.rls, subject.policies
        if rls is not None and rls.enabled and policies is not None and not policies:
            yield Hit(
                str(subject.name),
                "row-level security is enabled without any policy: queries of every role but the owner (and"
                " BYPASSRLS roles) see no rows and can change none",
                "add the policies the application needs, or silence this rule if deny-all is intended",
                subject.location,
            )
