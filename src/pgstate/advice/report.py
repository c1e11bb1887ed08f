"""The advice for people (text), for a pull request (markdown) and for machines (json)."""

from __future__ import annotations

import json

from .proposals import Advice, Proposal

QUERY_WIDTH = 160


def _query(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= QUERY_WIDTH else one_line[: QUERY_WIDTH - 1] + "…"


def _cost(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def _summary(advice: Advice) -> str:
    verified = f"verified with hypopg {advice.hypopg}" if advice.hypopg else "unverified: hypopg not available"
    return (
        f"{len(advice.proposals)} proposal(s) from {advice.statements} statement(s) of the workload"
        f" ({advice.planned} planned; indexes {verified})"
    )


def advice_text(advice: Advice) -> str:
    lines = [_summary(advice)]
    for number, proposal in enumerate(advice.proposals, 1):
        mark = "" if proposal.verified else " [unverified]"
        lines.append(f"{number}. {proposal.kind}: {proposal.title}{mark}")
        lines.append(f"   why: {proposal.reason}")
        for item in proposal.evidence[:3]:
            lines.append(
                f"   - {item.calls:,} calls, {item.mean_ms:,.2f} ms mean, cost {_cost(item.cost_before)} →"
                f" {_cost(item.cost_after)}: {_query(item.statement)}"
            )
    for text, why in advice.unplannable:
        lines.append(f"not planned: {_query(text)}: {why}")
    lines += [f"note: {note}" for note in advice.notes]
    return "\n".join(lines) + "\n"


def advice_markdown(advice: Advice, diffs: dict[int, str] | None = None) -> str:
    """A pull request's body: per proposal its evidence and, once written, the YAML diff (``diffs`` by number)."""
    out = ["## pgstate advise", "", _summary(advice) + ".", ""]
    for number, proposal in enumerate(advice.proposals, 1):
        out.append(
            f"### {number}. {proposal.kind}: `{proposal.title}`" + ("" if proposal.verified else " (unverified)")
        )
        out += ["", proposal.reason, ""]
        if proposal.evidence:
            out += ["| statement | calls | mean ms | cost before | cost after |", "|---|---:|---:|---:|---:|"]
            for item in proposal.evidence:
                query = _query(item.statement).replace("|", "\\|")
                out.append(
                    f"| `{query}` | {item.calls:,} | {item.mean_ms:,.2f} | {_cost(item.cost_before)}"
                    f" | {_cost(item.cost_after)} |"
                )
            out.append("")
        if diffs and number in diffs:
            out += ["```diff", diffs[number].rstrip("\n"), "```", ""]
    if advice.notes:
        out += [f"> {note}" for note in advice.notes] + [""]
    return "\n".join(out)


def advice_json(advice: Advice) -> str:
    document = {
        "proposals": [proposal.as_json() for proposal in advice.proposals],
        "statements": advice.statements,
        "planned": advice.planned,
        "unplannable": [{"statement": text, "why": why} for text, why in advice.unplannable],
        "hypopg": advice.hypopg,
        "notes": advice.notes,
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def proposal_titles(proposals: list[Proposal]) -> list[str]:
    return [proposal.title for proposal in proposals]
