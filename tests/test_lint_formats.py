"""`lint --format sarif` (GitHub code scanning) and `--format github` (workflow annotations): the SARIF is valid
against the official SARIF 2.1.0 schema, both point at the desired file and line from the repository's root,
workflow commands are escaped as GitHub's toolkit escapes them, and the exit code is the same in every format."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, unquote

import jsonschema
import pytest

from pgharness import TestDatabase, run_pgstate_inprocess
from pgstate import __version__
from pgstate.errors import SourceLocation
from pgstate.lint import RULES, LintFinding, Severity
from pgstate.lint.code_review import render_github, render_sarif

SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json").read_text())
FORMATS = ("text", "json", "sarif", "github")

# An error (policies while RLS is off) and a warning (a policy without TO) in two files, one of them with a
# comma and a colon in its name, a policy name with a percent sign and a colon: all that must be escaped.
ORDERS = """table: Orders
rls: {enabled: false}
policies:
  - name: own orders
    roles: [authenticated]
    using: id > 0
"""
NOTES = """table: notes
rls: {enabled: true}
policies:
  - name: "50% of everyone, really: all"
    using: id > 0
"""
COMMAND = re.compile(r"^::(?P<level>error|warning) (?P<properties>[^:]*)::(?P<message>.*)$")


@pytest.fixture
def repository(database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with its desired files in db/desired, the working directory db/ (paths in the outputs are
    from the repository's root, not from where pgstate runs)."""
    database.execute(
        'CREATE TABLE "Orders" (id int); CREATE TABLE notes (id int); ALTER TABLE notes ENABLE ROW LEVEL SECURITY'
    )
    (tmp_path / ".git").mkdir()
    desired = tmp_path / "db" / "desired"
    desired.mkdir(parents=True)
    (desired / "Orders.yaml").write_text(ORDERS)
    (desired / "notes, all: yes.yaml").write_text(NOTES)
    monkeypatch.chdir(tmp_path / "db")
    return tmp_path


def _lint(database: TestDatabase, format_: str) -> tuple[int, str]:
    run = run_pgstate_inprocess(["lint", "--desired", "desired", "--database-url", database.url, "--format", format_])
    return run.exit_code, run.stdout


def test_sarif_is_valid_and_locates_each_finding(database: TestDatabase, repository: Path) -> None:
    code, out = _lint(database, "sarif")
    assert code == 1  # an error remains: as in every format
    log = json.loads(out)
    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(log)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")

    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("pgstate", __version__)
    assert [rule["id"] for rule in driver["rules"]] == sorted(RULES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and f"ignore: [{rule['id']}]" in rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] == str(RULES[rule["id"]].severity)

    # The same findings, at the same places, as the json format reports them (paths from the cwd there).
    _, json_out = _lint(database, "json")
    expected = {
        (f["rule"], f["severity"], "db/" + f["location"]["file"], f["location"]["line"], f["location"]["column"])
        for f in json.loads(json_out)["findings"]
    }
    found = set()
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%" and quote(unquote(artifact["uri"]), safe="/") == artifact["uri"]
        region = location["physicalLocation"]["region"]
        found.add(
            (result["ruleId"], result["level"], unquote(artifact["uri"]), region["startLine"], region["startColumn"])
        )
        assert (repository / unquote(artifact["uri"])).is_file()
        assert result["partialFingerprints"]["pgstateFinding/v1"]
    assert found == expected
    assert ("policy-exists-rls-disabled", "error") in {(rule, level) for rule, level, *_ in found}
    no_role = [f for f in found if f[0] == "policy-no-role"]
    assert [(uri, line) for _, _, uri, line, _ in no_role] == [("db/desired/notes, all: yes.yaml", 4)]


def test_github_annotations(database: TestDatabase, repository: Path) -> None:
    code, out = _lint(database, "github")
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "1 error, " + lines[-1].split(", ")[1] and not lines[-1].startswith("::")
    commands = [COMMAND.match(line) for line in lines[:-1]]
    assert all(commands), lines
    annotations = []
    for match in commands:
        assert match is not None
        properties = dict(item.split("=", 1) for item in match["properties"].split(","))
        annotations.append(
            (match["level"], {k: _unescape(v) for k, v in properties.items()}, _unescape(match["message"]))
        )
    (no_role,) = [a for a in annotations if a[1]["title"] == "pgstate policy-no-role"]
    level, properties, message = no_role
    assert level == "warning"
    assert properties["file"] == "db/desired/notes, all: yes.yaml" and properties["line"] == "4"
    assert message.startswith('"50% of everyone, really: all" on public.notes: ') and "\nhint: " in message
    # Escaped on the wire: the comma and colon of the file name, the percent sign and the line break.
    raw = next(line for line in lines if "policy-no-role" in line)
    assert "file=db/desired/notes%2C all%3A yes.yaml," in raw and "50%25 of" in raw and "%0Ahint: " in raw
    assert ("error", "pgstate policy-exists-rls-disabled") in {(a[0], a[1]["title"]) for a in annotations}


def test_the_exit_code_is_the_same_in_every_format(database: TestDatabase, repository: Path) -> None:
    assert {_lint(database, format_)[0] for format_ in FORMATS} == {1}
    (repository / "db" / "desired" / "Orders.yaml").unlink()  # only warnings remain
    codes = {format_: _lint(database, format_) for format_ in FORMATS}
    assert {code for code, _ in codes.values()} == {0}
    assert json.loads(codes["sarif"][1])["runs"][0]["results"]  # the warnings are still reported
    assert all(line.startswith("::warning ") for line in codes["github"][1].splitlines()[:-1])


def _unescape(text: str) -> str:
    """GitHub's runner reading a workflow command back (the inverse of its toolkit's escaping)."""
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


def test_escaping_round_trips_and_unlocated_findings(tmp_path: Path) -> None:
    tricky = "100% done,\r\nthen: more %0A"
    finding = LintFinding("policy-no-role", Severity.WARNING, tricky, tricky, tricky, None)
    located = LintFinding(
        "invalid-index", Severity.ERROR, "t", "m", "h", SourceLocation(str(tmp_path / "a b,c:%.yaml"), 2, 3)
    )
    out = render_github([finding, located], root=tmp_path, cwd=tmp_path).splitlines()
    first = COMMAND.match(out[0])
    assert first is not None and first["properties"] == "title=pgstate policy-no-role"  # no file: no location
    assert _unescape(first["message"]) == f"{tricky}: {tricky}\nhint: {tricky}"
    second = COMMAND.match(out[1])
    assert (
        second is not None
        and second["properties"] == "file=a b%2Cc%3A%25.yaml,line=2,col=3,title=pgstate invalid-index"
    )

    log = json.loads(render_sarif([finding, located], root=tmp_path, cwd=tmp_path))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    unlocated, at_file = log["runs"][0]["results"]
    assert "locations" not in unlocated and unlocated["message"]["text"].startswith(tricky)
    assert at_file["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "a%20b%2Cc%3A%25.yaml"
    # Outside the repository root: an absolute file URI.
    outside = LintFinding("invalid-index", Severity.ERROR, "t", "m", "h", SourceLocation("/elsewhere/x.yaml", 1, 1))
    uri = json.loads(render_sarif([outside], root=tmp_path, cwd=tmp_path))["runs"][0]["results"][0]["locations"][0]
    assert uri["physicalLocation"]["artifactLocation"]["uri"] == "file:///elsewhere/x.yaml"
