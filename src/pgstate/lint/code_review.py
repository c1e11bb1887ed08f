"""Lint findings where code review sees them: SARIF 2.1.0 for GitHub code scanning (``--format sarif``) and
workflow commands that annotate the pull request's files (``--format github``).

Both name each desired file by its path from the root of the repository that holds the working directory (what
code scanning and annotations resolve paths against), or from the working directory outside a repository.
The exit code is the same in every format: 1 when an error remains, else 0.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..errors import SourceLocation
from .base import LintFinding, Severity
from .registry import RULES, Rule
from .render import summary

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SILENCING = (
    "Silence it for one object with `lint: {ignore: [%s]}` in the document that declares it, or set its level"
    ' (`error`, `warning`, `off`) in pgstate.toml: `[lint.rules]` `%s = "warning"`.'
)


def repository_root(cwd: Path) -> Path:
    """The work tree holding ``cwd`` (the nearest directory with a ``.git``), else ``cwd`` itself."""
    directory = cwd.resolve()
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
    return directory


def repository_path(location: SourceLocation, root: Path, cwd: Path) -> str | None:
    """The file of ``location`` relative to ``root``, with ``/``; None when it lies outside ``root``."""
    path = Path(location.file)
    absolute = (path if path.is_absolute() else cwd / path).resolve()
    try:
        return absolute.relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def render_sarif(findings: Sequence[LintFinding], *, root: Path, cwd: Path) -> str:
    """A SARIF 2.1.0 log of one run: every rule pgstate has (id, description, default level, help) and one
    result per finding, located at the desired file and line that declare its object."""
    rules = sorted(RULES.values(), key=lambda rule: rule.id)
    index = {rule.id: position for position, rule in enumerate(rules)}
    results = [_result(finding, index, root, cwd) for finding in findings]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pgstate",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule(rule) for rule in rules],
                    }
                },
                "columnKind": "unicodeCodePoints",  # SourceLocation counts characters, as Python strings do
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _rule(rule: Rule) -> dict[str, object]:
    category = rule.check.__module__.rsplit(".", 1)[-1]  # the rules' module: policies, rls, indexes, plan, ...
    description = _sentence(rule.description[:1].upper() + rule.description[1:])
    silencing = SILENCING % (rule.id, rule.id)
    return {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.id.split("-")),
        "shortDescription": {"text": description},
        "fullDescription": {"text": description},
        "help": {"text": f"{description} {silencing}", "markdown": f"{description}\n\n{silencing}"},
        "defaultConfiguration": {"level": _level(rule.severity)},
        "properties": {"tags": ["postgresql", category], "problem.severity": _level(rule.severity)},
    }


def _result(finding: LintFinding, index: dict[str, int], root: Path, cwd: Path) -> dict[str, object]:
    result: dict[str, object] = {
        "ruleId": finding.rule,
        "level": _level(finding.severity),
        "message": {"text": f"{finding.target}: {_sentence(finding.message)}\nHint: {_sentence(finding.hint)}"},
        # The object and the problem, not the line: the finding stays one alert when lines above it move.
        "partialFingerprints": {"pgstateFinding/v1": _fingerprint(finding)},
    }
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    location = finding.location
    path = repository_path(location, root, cwd) if location is not None else None
    if location is not None:
        artifact = (
            {"uri": quote(path, safe="/"), "uriBaseId": "%SRCROOT%"}
            if path is not None
            else {"uri": Path(location.file).resolve().as_uri()}
        )
        region = {"startLine": max(location.line, 1), "startColumn": max(location.column, 1)}
        result["locations"] = [
            {
                "physicalLocation": {"artifactLocation": artifact, "region": region},
                "logicalLocations": [{"fullyQualifiedName": finding.target, "kind": "object"}],
            }
        ]
    return result


def _fingerprint(finding: LintFinding) -> str:
    return hashlib.sha256("\0".join((finding.rule, finding.target, finding.message)).encode()).hexdigest()


def _level(severity: Severity) -> str:
    return "error" if severity is Severity.ERROR else "warning"


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


def render_github(findings: Sequence[LintFinding], *, root: Path, cwd: Path) -> str:
    """One workflow command per finding (``::error file=F,line=L,col=C,title=T::message``), which GitHub shows
    as an annotation on that line of the pull request's diff, then the counts as a plain line."""
    lines = []
    for finding in findings:
        properties = []
        location = finding.location
        if location is not None:
            path = repository_path(location, root, cwd) or location.file
            properties += [f"file={_property(path)}", f"line={location.line}", f"col={location.column}"]
        properties.append(f"title={_property(f'pgstate {finding.rule}')}")
        message = f"{finding.target}: {finding.message}\nhint: {finding.hint}"
        lines.append(f"::{_level(finding.severity)} {','.join(properties)}::{_data(message)}")
    lines.append(summary(findings))
    return "\n".join(lines) + "\n"


def _data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit does (``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """A workflow command's property value (``escapeProperty``): also ``:`` and ``,``, which end a property."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")
