"""Rules on helper functions and views: whose privileges and whose search_path they run with."""

from __future__ import annotations

from collections.abc import Iterator

from ..base import Hit, Severity
from ..context import LintContext
from ..registry import rule

SECURITY_INVOKER_SINCE = 150000  # server_version_num of the first release with views' security_invoker


@rule(
    "function-search-path-mutable",
    Severity.WARNING,
    "a function does not set search_path (an error for SECURITY DEFINER ones, which callers could hijack)",
)
def search_path_mutable(ctx: LintContext) -> Iterator[Hit]:
    for function in ctx.functions:
        if function.search_path is not None:
            continue
        definer = function.security_definer
        yield Hit(
            f"{function.qualified_name}({function.identity_arguments})",
            "does not set search_path"
            + (
                ": it runs with its owner's privileges, and a caller's search_path can make it call the caller's"
                " own functions and operators"
                if definer
                else ": names in its body resolve through the caller's search_path"
            ),
            "set it: `search_path: [pg_catalog, public]` (ALTER FUNCTION ... SET search_path = pg_catalog, public)",
            ctx.location(function),
            Severity.ERROR if definer else None,
        )


@rule(
    "security-definer-view",
    Severity.WARNING,
    "a view without security_invoker=true checks permissions and RLS as its owner, not as the querying user",
)
def definer_view(ctx: LintContext) -> Iterator[Hit]:
    version = ctx.server_version
    invoker = ctx.facts.view_security_invoker if ctx.facts else {}
    for view in ctx.views:
        if version is not None and version < SECURITY_INVOKER_SINCE:
            hint = (
                "PostgreSQL before 15 has no security_invoker: upgrade, or revoke SELECT on the view from anon and"
                " authenticated"
            )
        elif invoker.get(view.name, False):
            continue
        else:
            hint = f"ALTER VIEW {view.name} SET (security_invoker = true)"
        yield Hit(
            str(view.name),
            "runs as its owner: row-level security and privileges of the tables it reads are not applied to the"
            " user querying it",
            hint,
            ctx.location(view),
        )
