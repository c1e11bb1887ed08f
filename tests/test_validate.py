"""`validate` without a database: loading, the JSON Schema, meaning checks, default index names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pgstate.errors import InvalidDesiredState
from pgstate.model.naming import default_index_name
from pgstate.source.documents import validate_documents
from pgstate.source.loader import load_documents
from pgstate.source.nodes import Document
from pgstate.source.schema import load_schema, no_kind_message

NO_KIND = no_kind_message()

REPO = Path(__file__).resolve().parent.parent

VALID = """\
table: User
schema: public
present: true
columns:
  resumeText: {type: text}
  resumeData: {type: jsonb}
  score:      {type: 'numeric(6,2)', using: 'round(score::numeric, 2)'}
  createdAt:  {type: timestamp(3) with time zone}
  tags:       {type: 'public."Tag"[]'}
indexes:
  - name: User_isPremium_credits_idx
    columns: [isPremium, credits]
    unique: false
    method: btree
    where: '"isPremium"'
    include: [email]
  - columns: [{column: name, order: desc, nulls: last, opclass: text_pattern_ops}]
  - columns: [{expression: "lower(email)"}]
    unique: true
prune_indexes: false
rls:
  enabled: true
  forced: false
policies:
  - name: Users can view own rows
    command: select
    roles: [authenticated]
    permissive: true
    using: user_id = (select auth.uid())
    with_check: null
storage:
  autovacuum_vacuum_scale_factor: 0.05
  fillfactor: 90
lint:
  ignore: [rls-auth-initplan]
---
table: interviews
present: false
retire:
  activity_column: created_at
  quiet_days: 7
  backup: true
  cascade: false
---
database:
  settings:
    log_min_duration_statement: 1000
    jit: off
  extensions: [pg_stat_statements]
  maintenance:
    analyze_max_age: 1d
    vacuum_dead_ratio: 0.2
    reindex_invalid: true
---
function: can_access_interview
schema: public
arguments: interview_user_id uuid
returns: boolean
language: plpgsql
volatility: stable
security: definer
search_path: [pg_catalog, public]
body: |
  BEGIN RETURN interview_user_id = auth.uid(); END;
---
view: performance_metrics
schema: public
query: |
  SELECT relname, seq_scan, idx_scan FROM pg_stat_user_tables
"""


@pytest.fixture
def desired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty desired directory; the working directory is its parent, so messages say desired/..."""
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "desired"
    directory.mkdir()
    return directory


def write(directory: Path, text: str, name: str = "a.yaml") -> None:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def problems(directory: Path) -> list[str]:
    """Every problem ``validate`` reports, as ``file:line:col: message`` (hints left out)."""
    with pytest.raises(InvalidDesiredState) as raised:
        validate_documents(load_documents(directory))
    return [
        f"{problem.location}: {problem.message}" if problem.location else problem.message
        for problem in raised.value.problems
    ]


def only_problem(directory: Path, text: str) -> str:
    write(directory, text)
    found = problems(directory)
    assert len(found) == 1, found
    return found[0]


# --- valid input ------------------------------------------------------------------------------------------


def test_a_file_with_every_kind_is_valid(desired: Path) -> None:
    write(desired, VALID)
    documents = load_documents(desired)
    validate_documents(documents)
    assert [doc.kind for doc in documents] == ["table", "table", "database", "function", "view"]
    assert documents[0].data["storage"] == {"autovacuum_vacuum_scale_factor": 0.05, "fillfactor": 90}
    assert documents[0].data["policies"][0]["with_check"] is None
    assert documents[2].data["database"]["settings"]["jit"] is False  # YAML 1.1 values, as safe loading


def test_positions_released_after_parsing_come_back_the_same(desired: Path) -> None:
    """load_desired lets go of each document's map of positions once the specs are read (25 MB at 5,000 tables);
    a message asked for later (lint, a refused fragment) must still point where the value was written, in every
    document of a file with several, and through a YAML document separator."""
    write(desired, "---\n" + VALID + "---\n")
    from pgstate.pipeline import load_desired

    before = load_documents(desired)
    positions = {(doc.index, path): doc.locate(path) for doc in before for path in doc.locations}
    assert len(positions) > 50
    specs = load_desired(desired)
    assert all(not doc.locations for doc in specs.documents)  # released
    again = {(doc.index, path): doc.locate(path) for doc in specs.documents for path in positions_of(doc, positions)}
    assert again == {key: value for key, value in positions.items() if key in again}
    assert len(again) == len(positions)


def positions_of(document: Document, positions: dict[tuple[int, tuple[str | int, ...]], object]) -> list[Any]:
    return [path for index, path in positions if index == document.index]


def test_the_published_schema_accepts_the_valid_example_and_rejects_mixed_kinds(desired: Path) -> None:
    schema = json.loads((REPO / "schemas" / "desired.schema.json").read_text())
    assert schema == load_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    write(desired, VALID)
    for doc in load_documents(desired):
        assert not list(validator.iter_errors(doc.data)), doc.kind
    assert not validator.is_valid({"table": "t", "view": "v", "query": "select 1"})
    assert not validator.is_valid({"schema": "public"})


def test_schema_symlink_is_relative() -> None:
    link = REPO / "schemas" / "desired.schema.json"
    assert link.is_symlink()
    assert str(link.readlink()) == "../src/pgstate/schema/desired.schema.json"


def test_every_schema_key_has_a_description() -> None:
    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                assert "description" in sub, f"{where}.{key}"
            for key, sub in node.items():
                walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for position, sub in enumerate(node):
                walk(sub, f"{where}[{position}]")

    walk(load_schema(), "schema")


# --- loading ----------------------------------------------------------------------------------------------


def test_line_numbers_are_right_in_the_third_document(desired: Path) -> None:
    write(desired, "table: a\n---\n# comment\ntable: b\n---\n\ntable: c\nindexes:\n  - colums: [x]\n")
    documents = load_documents(desired)
    assert [doc.index for doc in documents] == [0, 1, 2]
    assert str(documents[2].locate(("table",))) == "desired/a.yaml:7:1"
    assert str(documents[2].locate(("indexes", 0))) == "desired/a.yaml:9:5"
    assert problems(desired) == [
        "desired/a.yaml:9:5: unknown key 'colums' in index at indexes[0]; allowed: "
        "name, columns, unique, method, where, include, present",
        "desired/a.yaml:9:5: index at indexes[0] is missing the required key 'columns'",
    ]


def test_locate_falls_back_to_the_deepest_existing_parent(desired: Path) -> None:
    write(desired, "table: a\nindexes:\n  - columns: [x]\n")
    (document,) = load_documents(desired)
    assert str(document.locate(("indexes", 0, "where"))) == "desired/a.yaml:3:5"
    assert str(document.locate(("nothing", 3))) == "desired/a.yaml:1:1"


def test_files_are_read_recursively_in_path_order_and_empty_documents_skipped(desired: Path) -> None:
    write(desired, "table: z\n", "b.yml")
    write(desired, "---\n---\ntable: a\n---\n# only a comment\n", "a.yaml")
    write(desired, "table: n\n", "a/nested.yaml")
    write(desired, "table: ignored\n", "notes.txt")
    documents = load_documents(desired)
    assert [(doc.file, doc.index, doc.data["table"]) for doc in documents] == [
        ("desired/a/nested.yaml", 0, "n"),
        ("desired/a.yaml", 1, "a"),
        ("desired/b.yml", 0, "z"),
    ]


def test_keys_stay_names_while_values_follow_yaml_1_1(desired: Path) -> None:
    write(desired, "table: t\ncolumns:\n  on: {type: text}\n  '1': {type: int}\nstorage: {fillfactor: 0x5A}\n")
    (document,) = load_documents(desired)
    assert list(document.data["columns"]) == ["on", "1"]
    assert document.data["storage"] == {"fillfactor": 90}


def test_merge_keys_are_supported(desired: Path) -> None:
    write(desired, "table: t\ncolumns:\n  a: &text {type: text}\n  b:\n    <<: *text\n    using: a::text\n")
    (document,) = load_documents(desired)
    assert document.data["columns"]["b"] == {"using": "a::text", "type": "text"}


def test_nested_aliases_cannot_expand_without_bound(desired: Path) -> None:
    lines = ["table: t", "storage:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    write(desired, "\n".join(lines) + "\n")
    assert problems(desired) == [
        "desired/a.yaml:6:7: aliases of this YAML anchor expand the document beyond 100,000 values"
    ]


def test_document_is_a_plain_frozen_value(desired: Path) -> None:
    write(desired, "view: v\nquery: select 1\n")
    (document,) = load_documents(desired)
    assert isinstance(document, Document)
    assert document.kind == "view"
    with pytest.raises(AttributeError):
        document.file = "other"  # type: ignore[misc]


# --- errors: syntax ---------------------------------------------------------------------------------------


def test_yaml_syntax_error(desired: Path) -> None:
    assert only_problem(desired, "table: User\ncolumns:\n  a: {type: text\nindexes: []\n") == (
        "desired/a.yaml:4:8: invalid YAML: did not find expected ',' or '}' "
        "(while parsing a flow mapping that began on line 3)"
    )


def test_bad_indentation(desired: Path) -> None:
    assert only_problem(desired, "table: User\n  schema: x\n") == (
        "desired/a.yaml:2:9: invalid YAML: mapping values are not allowed in this context"
    )


def test_duplicate_mapping_key(desired: Path) -> None:
    assert only_problem(desired, "table: User\ncolumns:\n  a: {type: text}\n  a: {type: int}\n") == (
        "desired/a.yaml:4:3: duplicate key 'a' in this mapping (first written on line 3)"
    )


def test_a_document_that_is_not_a_mapping(desired: Path) -> None:
    assert only_problem(desired, "- table\n") == (
        "desired/a.yaml:1:1: a document must be a mapping whose first key is its kind (table, database, function, view)"
    )


def test_unsafe_tags_are_refused(desired: Path) -> None:
    assert only_problem(desired, "table: !!python/object:os.system t\n") == (
        "desired/a.yaml:1:8: unsupported YAML tag tag:yaml.org,2002:python/object:os.system"
    )


# --- errors: schema ---------------------------------------------------------------------------------------


def test_unknown_top_level_key(desired: Path) -> None:
    write(desired, "table: User\ncolums:\n  a: {type: text}\n")
    with pytest.raises(InvalidDesiredState) as raised:
        validate_documents(load_documents(desired))
    (problem,) = raised.value.problems
    assert str(problem.location) == "desired/a.yaml:2:1"
    assert problem.message == (
        "unknown key 'colums' in table document; allowed: table, schema, present, columns, indexes, "
        "prune_indexes, rls, policies, storage, retire, lint"
    )
    assert problem.hint == "did you mean 'columns'?"


def test_unknown_key_in_an_index(desired: Path) -> None:
    assert only_problem(desired, "table: User\nindexes:\n  - columns: [a]\n    uniqe: true\n") == (
        "desired/a.yaml:4:5: unknown key 'uniqe' in index at indexes[0]; "
        "allowed: name, columns, unique, method, where, include, present"
    )


def test_unknown_key_in_an_index_key(desired: Path) -> None:
    assert only_problem(desired, "table: User\nindexes:\n  - columns: [a, {column: b, ordr: desc}]\n") == (
        "desired/a.yaml:3:30: unknown key 'ordr' in index key at indexes[0].columns[1]; "
        "allowed: column, order, nulls, opclass, collation"
    )


def test_wrong_types(desired: Path) -> None:
    write(desired, "table: User\nprune_indexes: maybe\ncolumns: [a, b]\nretire: {quiet_days: '7'}\n")
    assert problems(desired) == [
        "desired/a.yaml:2:1: prune_indexes: expected true or false, got 'maybe'",
        "desired/a.yaml:3:1: columns: expected a mapping, got a list",
        "desired/a.yaml:4:10: retire.quiet_days: expected an integer, got '7'",
    ]


def test_an_index_key_of_no_known_form(desired: Path) -> None:
    assert only_problem(desired, "table: t\nindexes:\n  - columns: [1]\n") == (
        "desired/a.yaml:3:15: indexes[0].columns[0]: expected a column name, or {column: c, order, nulls, "
        "opclass}, or {expression: e, order, nulls, opclass}, got 1"
    )


def test_missing_kind(desired: Path) -> None:
    assert only_problem(desired, "schema: public\ncolumns: {}\n") == f"desired/a.yaml:1:1: {NO_KIND}"
    assert NO_KIND == "document has no kind: its first key must be one of table, database, function, view, role"


def test_unknown_kind(desired: Path) -> None:
    write(desired, "table: a\n---\ntabel: User\n")
    with pytest.raises(InvalidDesiredState) as raised:
        validate_documents(load_documents(desired))
    (problem,) = raised.value.problems
    assert problem.render() == (
        f"desired/a.yaml:3:1: {NO_KIND}\n  hint: the first key is 'tabel'; did you mean 'table'?"
    )


def test_kind_must_come_first(desired: Path) -> None:
    write(desired, "schema: public\ntable: User\n")
    with pytest.raises(InvalidDesiredState) as raised:
        validate_documents(load_documents(desired))
    assert raised.value.problems[0].hint == "move `table:` to the top of the document"


def test_bad_enum_values(desired: Path) -> None:
    write(
        desired,
        "table: User\nindexes:\n  - columns: [a]\n    method: btreee\npolicies:\n  - name: p\n    command: selet\n",
    )
    assert problems(desired) == [
        "desired/a.yaml:4:5: indexes[0].method: 'btreee' is not one of: btree, hash, gin, gist, brin, spgist",
        "desired/a.yaml:7:5: policies[0].command: 'selet' is not one of: all, select, insert, update, delete",
    ]


def test_type_with_a_semicolon(desired: Path) -> None:
    write(desired, "table: User\ncolumns:\n  a: {type: 'text; DROP TABLE x'}\n")
    with pytest.raises(InvalidDesiredState) as raised:
        validate_documents(load_documents(desired))
    (problem,) = raised.value.problems
    assert problem.render().splitlines()[0] == (
        "desired/a.yaml:3:7: columns.a.type: 'text; DROP TABLE x' is not valid here"
    )
    assert problem.hint is not None and "no semicolons" in problem.hint


@pytest.mark.parametrize("sql_type", ["int -- x", "int /* x */", "int)", "(int)", "text[x]", " text"])
def test_other_unsafe_or_malformed_types(desired: Path, sql_type: str) -> None:
    write(desired, f"table: t\ncolumns:\n  a: {{type: {json.dumps(sql_type)}}}\n")
    assert problems(desired)[0].startswith("desired/a.yaml:3:7: columns.a.type: ")


def test_missing_required_keys(desired: Path) -> None:
    write(desired, "view: v\n---\ntable: t\nindexes:\n  - name: x\n  - columns: []\n")
    assert problems(desired) == [
        "desired/a.yaml:1:1: view document is missing the required key 'query'",
        "desired/a.yaml:5:5: index at indexes[0] is missing the required key 'columns'",
        "desired/a.yaml:6:5: indexes[1].columns: must not be empty",
    ]


def test_identifier_longer_than_63_bytes(desired: Path) -> None:
    assert only_problem(desired, "table: " + "é" * 40 + "\n") == (
        "desired/a.yaml:1:1: table: '" + "é" * 40 + "' is longer than 63 bytes in UTF-8"
    )


def test_database_maintenance_values(desired: Path) -> None:
    write(desired, "database:\n  maintenance: {analyze_max_age: 1 day, vacuum_dead_ratio: 2}\n")
    assert problems(desired) == [
        "desired/a.yaml:2:17: database.maintenance.analyze_max_age: '1 day' is not valid here",
        "desired/a.yaml:2:41: database.maintenance.vacuum_dead_ratio: must be at most 1, got 2",
    ]


def test_lint_rule_ids(desired: Path) -> None:
    assert only_problem(desired, "view: v\nquery: select 1\nlint: {ignore: [Bad_Rule]}\n") == (
        "desired/a.yaml:3:17: lint.ignore[0]: 'Bad_Rule' is not valid here"
    )


# --- errors: meaning --------------------------------------------------------------------------------------


def test_duplicate_table_across_files(desired: Path) -> None:
    write(desired, "table: User\n", "a.yaml")
    write(desired, "table: User\nschema: public\n", "b.yaml")
    assert problems(desired) == [
        'desired/b.yaml:1:1: table public."User" is declared twice (first at desired/a.yaml:1:1)'
    ]


def test_same_table_name_in_two_schemas_is_fine(desired: Path) -> None:
    write(desired, "table: User\n---\ntable: User\nschema: auth\n")
    validate_documents(load_documents(desired))


def test_duplicate_explicit_index_names_in_one_schema(desired: Path) -> None:
    write(
        desired,
        "table: a\nindexes:\n  - name: i\n    columns: [x]\n---\ntable: b\nindexes:\n  - name: i\n    columns: [y]\n",
    )
    assert problems(desired) == [
        "desired/a.yaml:8:5: index name 'i' is used twice in schema 'public': here and at desired/a.yaml:3:5"
    ]


def test_explicit_index_name_clashing_with_a_default_one(desired: Path) -> None:
    write(desired, "table: User\nindexes:\n  - name: User_email_idx\n    columns: [a]\n  - columns: [email]\n")
    assert problems(desired) == [
        "desired/a.yaml:5:5: index name 'User_email_idx' is used twice in schema 'public': here (the default "
        "name of this unnamed index) and at desired/a.yaml:3:5"
    ]


def test_index_named_like_a_table(desired: Path) -> None:
    write(desired, "table: a\nindexes:\n  - name: b\n    columns: [x]\n---\ntable: b\n")
    assert problems(desired) == [
        "desired/a.yaml:6:1: the table name public.b is already used by the index at desired/a.yaml:3:5"
    ]


def test_include_repeats_or_overlaps_key_columns(desired: Path) -> None:
    write(desired, "table: User\nindexes:\n  - columns: [a, {column: b}]\n    include: [c, b, c]\n")
    assert problems(desired) == [
        "desired/a.yaml:4:18: indexes[0].include: 'b' is already a key column of this index",
        "desired/a.yaml:4:21: indexes[0].include lists 'c' twice",
    ]


def test_retire_without_present_false(desired: Path) -> None:
    assert only_problem(desired, "table: User\nretire:\n  quiet_days: 7\n") == (
        "desired/a.yaml:2:1: `retire` needs `present: false`: only a table being retired has retire settings"
    )


def test_retired_table_with_managed_keys(desired: Path) -> None:
    write(desired, "table: User\npresent: false\ncolumns: {a: {type: text}}\nrls: {enabled: true}\n")
    assert problems(desired) == [
        "desired/a.yaml:3:1: `columns` cannot be used with `present: false`: the table is being retired",
        "desired/a.yaml:4:1: `rls` cannot be used with `present: false`: the table is being retired",
    ]


def test_security_definer_without_search_path(desired: Path) -> None:
    write(desired, "function: f\nsecurity: definer\nbody: select 1\n")
    with pytest.raises(InvalidDesiredState) as raised:
        validate_documents(load_documents(desired))
    (problem,) = raised.value.problems
    assert str(problem.location) == "desired/a.yaml:2:1"
    assert problem.message == "a `security: definer` function must set `search_path`"
    assert problem.hint is not None and "search_path: [pg_catalog, public]" in problem.hint


def test_two_database_documents(desired: Path) -> None:
    write(desired, "database: {}\n", "a.yaml")
    write(desired, "database: {extensions: [pg_trgm]}\n", "b.yaml")
    assert problems(desired) == ["desired/b.yaml:1:1: more than one database document (first at desired/a.yaml:1:1)"]


def test_duplicate_functions_and_views(desired: Path) -> None:
    write(
        desired,
        "function: f\narguments: a int\nbody: x\n"
        "---\nfunction: f\narguments: ' a  int '\nbody: y\n"
        "---\nfunction: f\narguments: a text\nbody: overload\n"
        "---\nview: v\nquery: select 1\n---\nview: v\nquery: select 2\n",
    )
    assert problems(desired) == [
        "desired/a.yaml:5:1: function public.f(a int) is declared twice (first at desired/a.yaml:1:1)",
        "desired/a.yaml:16:1: view public.v is declared twice (first at desired/a.yaml:13:1)",
    ]


def test_duplicate_policy_names(desired: Path) -> None:
    assert only_problem(desired, "table: t\npolicies:\n  - name: p\n  - name: p\n") == (
        "desired/a.yaml:4:5: policy 'p' is declared twice on table public.t (first at desired/a.yaml:3:5)"
    )


def test_all_problems_are_reported_in_file_and_line_order(desired: Path) -> None:
    write(desired, "table: t\nretire: {}\n---\ntable: u\nfoo: 1\n", "b.yaml")
    write(desired, "table: t\n", "a.yaml")
    assert [problem.split(": ")[0] for problem in problems(desired)] == [
        "desired/b.yaml:1:1",  # t declared twice
        "desired/b.yaml:2:1",  # retire without present: false
        "desired/b.yaml:5:1",  # unknown key
    ]


# --- default index names ----------------------------------------------------------------------------------
# Expected values were checked against PostgreSQL 15 (CREATE INDEX ON ... without a name).


def test_default_index_name_short() -> None:
    assert default_index_name("User", ["isPremium", "credits"]) == "User_isPremium_credits_idx"


def test_default_index_name_repeated_column() -> None:
    assert default_index_name("ab", ["a", "a", "a"]) == "ab_a_a1_a2_idx"


@pytest.mark.parametrize(
    ("table", "columns", "expected"),
    [
        ("t" * 63, ["a"], "t" * 57 + "_a_idx"),
        ("t" * 40, ["c" * 40], "t" * 29 + "_" + "c" * 29 + "_idx"),
        ("t" * 30, ["c" * 30, "d" * 30, "e" * 30], "t" * 29 + "_" + "c" * 29 + "_idx"),
        ("short", ["c" * 63, "d" * 63, "e"], "short_" + "c" * 53 + "_idx"),
        ("t", ["a" * 63, "a" * 63], "t_" + "a" * 57 + "_idx"),
    ],
)
def test_default_index_name_is_truncated_to_63_bytes(table: str, columns: list[str], expected: str) -> None:
    name = default_index_name(table, columns)
    assert name == expected
    assert len(name.encode()) == 63


@pytest.mark.parametrize(
    ("table", "columns", "expected"),
    [
        ("é" * 31, ["ü" * 31], "é" * 14 + "_" + "ü" * 14 + "_idx"),
        ("x" * 10, ["é" * 31, "a" * 5, "b"], "x" * 10 + "_" + "é" * 24 + "_idx"),
        ("日本語テーブル名前" * 3, ["列" * 21, "b"], "日本語テーブル名前_" + "列" * 9 + "_idx"),
    ],
)
def test_default_index_name_never_splits_a_multibyte_character(table: str, columns: list[str], expected: str) -> None:
    name = default_index_name(table, columns)
    assert name == expected
    assert len(name.encode()) <= 63


def test_unknown_lint_rule_is_refused(desired: Path) -> None:
    problem = only_problem(desired, "view: v\nquery: select 1\nlint:\n  ignore: [security-definer-veiw]\n")
    assert problem.startswith("desired/a.yaml:4:12: unknown lint rule 'security-definer-veiw'"), problem


def test_the_readme_format_example_is_valid(desired: Path) -> None:
    """README's format block is what a newcomer copies: every document in it must validate as written."""
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index("## The format") :].split("```yaml\n", 1)[1].split("```", 1)[0]
    write(desired, block)
    documents = load_documents(desired)
    validate_documents(documents)
    assert {doc.kind for doc in documents} == {"table", "database", "role", "function", "view"}


@pytest.mark.parametrize("value", ["2020-01-01", "2020-01-01 10:00:00", "2001-12-14t21:59:43.10-05:00"])
def test_a_date_is_text_to_the_format(desired: Path, value: str) -> None:
    """YAML 1.1 reads a plain date as a timestamp; JSON Schema has no date: it stays the text written."""
    write(desired, f"database:\n  settings:\n    app.since: {value}\n---\ntable: t\nretire: {{quiet_days: {value}}}\n")
    documents = load_documents(desired)
    assert documents[0].data["database"]["settings"]["app.since"] == value
    problem = only_problem(desired, f"table: t\ncolumns:\n  a: {{type: {value}}}\n")
    assert problem.startswith("desired/a.yaml:3:7: columns.a.type:"), problem
