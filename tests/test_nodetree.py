"""The node-tree reader and the RLS InitPlan check, on hand-written snippets and on real PostgreSQL 15/18 trees."""

from __future__ import annotations

from typing import Any

import pytest

from pgharness import TestDatabase
from pgstate.lint.nodetree import (
    Datum,
    Node,
    NodeTreeError,
    Unparsed,
    function_calls_outside_initplan,
    parse_node_tree,
    read_node_text,
)

TABLE = "CREATE TABLE t (user_id uuid, org_id uuid, status text); ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
CHECKED_FUNCTIONS = "SELECT oid FROM pg_proc WHERE pronamespace = 'auth'::regnamespace OR proname = 'current_setting'"
TRICKY_TEXT = "{a} (b) \\ \"c\" :d <> 'e' é"  # every character the node-tree format escapes or treats specially


# --- the reader on hand-written text -----------------------------------------------------------------------------


def test_reads_null_lists_and_bitmapsets() -> None:
    node = parse_node_tree("{X :a <> :b (i 1 -2) :c (o 5) :d (b) :e (b 3 1) :f (x 9) :g ({Y :h 1} {Y :h 2})}")
    assert node.name == "X"
    assert node.get("a") is None
    assert node.get("b") == (1, -2)
    assert node.get("c") == (5,)
    assert node.get("d") == frozenset()
    assert node.get("e") == frozenset({1, 3})
    assert node.get("f") == (9,)
    assert node.get("g") == (Node("Y", {"h": 1}), Node("Y", {"h": 2}))
    assert node.get("missing", "default") == "default"


def test_reads_scalars_strings_and_escapes() -> None:
    text = r'{X :i 42 :f 1.5 :t true :n false :s abc :q "a\ b\(c\)" :e "" :d \12 :m \-3 :w a\\b\{\}}'
    node = parse_node_tree(text)
    assert dict(node.fields) == {
        "i": 42, "f": 1.5, "t": True, "n": False, "s": "abc", "q": "a b(c)", "e": "", "d": "12", "m": "-3",
        "w": "a\\b{}",
    }  # fmt: skip


def test_reads_const_datums_by_value_and_by_reference() -> None:
    node = parse_node_tree("{CONST :constlen 4 :constvalue 4 [ 1 0 0 0 0 0 0 0 ] :x [ -61 -87 ] :constisnull false}")
    assert node.get("constvalue") == Datum(4, bytes([1, 0, 0, 0, 0, 0, 0, 0]))
    assert node.get("x") == b"\xc3\xa9"  # outDatum prints bytes as signed chars
    assert parse_node_tree("{CONST :constvalue <>}").get("constvalue") is None
    assert parse_node_tree("{CONST :constvalue 0 [ ]}").get("constvalue") == Datum(0, b"")


def test_reads_nested_lists_and_keeps_unknown_shapes() -> None:
    node = parse_node_tree('{X :l ((1 2) ("a" <>) ()) :odd 1 2 3 :next {Y}}')
    assert node.get("l") == ((1, 2), ("a", None), ())
    assert node.get("odd") == Unparsed((1, 2, 3))
    assert node.get("next") == Node("Y", {})


def test_a_field_value_may_look_like_a_field_name() -> None:
    # outToken does not escape ':'; an alias named ":colnames" must stay the value of :aliasname.
    node = parse_node_tree('{ALIAS :aliasname :colnames :colnames ("a")}')
    assert dict(node.fields) == {"aliasname": ":colnames", "colnames": ("a",)}


def test_reads_top_level_lists_and_deep_nesting() -> None:
    assert read_node_text("({A} {B})") == (Node("A", {}), Node("B", {}))
    deep = "{N :x " * 5000 + "<>" + "}" * 5000  # deeper than Python's recursion limit
    node = parse_node_tree(deep)
    assert node.name == "N"


@pytest.mark.parametrize("text", ["", "{X :a 1", "{X :a 1}}", "(1 2", "{X} {Y}", "{", "(i a)", "1"])
def test_malformed_text_is_rejected(text: str) -> None:
    with pytest.raises(NodeTreeError):
        parse_node_tree(text)


def test_walker_on_hand_written_tree() -> None:
    call = "{FUNCEXPR :funcid 7 :args <> :location 10}"
    scalar = f"{{SUBLINK :subLinkType 4 :testexpr <> :subselect {{QUERY :targetList ({call})}} :location 3}}"
    exists = f"{{SUBLINK :subLinkType 0 :testexpr <> :subselect {{QUERY :targetList ({call})}} :location 5}}"
    tree = parse_node_tree(f"{{BOOLEXPR :args ({scalar} {exists} {call}) :location 1}}")
    assert function_calls_outside_initplan(tree, {7}) == [10, 10]
    assert function_calls_outside_initplan(tree, {8}) == []


# --- real trees from the server -----------------------------------------------------------------------------------


def _policy_tree(database: TestDatabase, using: str) -> Node:
    database.execute(f"{TABLE} CREATE POLICY p ON t USING ({using});")
    [(text,)] = database.query("SELECT polqual::text FROM pg_policy WHERE polname = 'p'")
    return parse_node_tree(text)


def _checked_oids(database: TestDatabase) -> set[int]:
    return {int(oid) for (oid,) in database.query(CHECKED_FUNCTIONS)}


def _find(value: Any, name: str) -> list[Node]:
    """All nodes called ``name`` in a tree (test helper; the trees here are shallow)."""
    found: list[Node] = []
    if isinstance(value, Node):
        found += [value] if value.name == name else []
        for child in value.fields.values():
            found += _find(child, name)
    elif isinstance(value, tuple):
        for child in value:
            found += _find(child, name)
    return found


@pytest.mark.parametrize(
    ("using", "flagged"),
    [
        ("user_id = auth.uid()", 1),
        ("user_id = (SELECT auth.uid())", 0),
        ("(select auth.uid()) = user_id AND status = 'x'", 0),
        ("auth.uid() IS NOT NULL AND user_id = (select auth.uid())", 1),
        ("user_id IN (SELECT user_id FROM t WHERE org_id = auth.uid())", 1),
        ("EXISTS (SELECT 1 FROM t t2 WHERE t2.org_id = auth.uid())", 1),
        ("user_id = ANY (ARRAY(SELECT auth.uid()))", 1),
        ("current_setting('request.jwt.claim.sub', true)::uuid = user_id", 1),
        ("(select current_setting('app.x', true)) = status", 0),
        ("status = ANY (ARRAY['a','b'])", 0),
        ("coalesce((select auth.role()), 'anon') = 'authenticated'", 0),
        ("CASE WHEN auth.role() = 'service_role' THEN true ELSE user_id = (SELECT auth.uid()) END", 1),
        ("org_id IN (SELECT org_id FROM t t2 WHERE t2.user_id = (SELECT auth.uid()))", 0),
        # Correlated: refers to the policy's row, so it is a per-row SubPlan, not an InitPlan.
        ("(SELECT auth.uid() WHERE t.status = 'x') = user_id", 1),
        # Inside an InitPlan, a subquery correlated only to the InitPlan's own rows still runs once per query.
        (
            "user_id = (SELECT t2.user_id FROM t t2"
            " WHERE t2.org_id IN (SELECT auth.uid() WHERE t2.status = '') LIMIT 1)",
            0,
        ),
        (f"status <> '{TRICKY_TEXT.replace(chr(39), chr(39) * 2)}' AND user_id = auth.uid()", 1),
        ("(auth.jwt() ->> 'role') = 'x' OR (select auth.jwt()) -> 'app' ? 'k'", 1),
    ],
)
def test_policy_calls_outside_initplan(database: TestDatabase, using: str, flagged: int) -> None:
    database.execute("CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT '{}'::jsonb $$;")
    tree = _policy_tree(database, using)
    locations = function_calls_outside_initplan(tree, _checked_oids(database))
    assert len(locations) == flagged, locations


def test_locations_point_at_the_calls(database: TestDatabase) -> None:
    using = "auth.uid() IS NOT NULL AND user_id = (select auth.uid())"
    tree = _policy_tree(database, using)
    [location] = function_calls_outside_initplan(tree, _checked_oids(database))
    if database.major >= 17:
        # Newer servers (seen on 18) write -1 for every location in catalog trees.
        assert location == -1
        return
    # Older servers keep the byte offset into the whole query string they received (here a script).
    script = f"{TABLE} CREATE POLICY p ON t USING ({using});".encode()
    assert script[location:].startswith(b"auth.uid() IS NOT NULL")


def test_string_constants_survive_the_reader(database: TestDatabase) -> None:
    literal = TRICKY_TEXT.replace("'", "''")
    tree = _policy_tree(database, f"status = '{literal}' OR status = E'tab\\there\\nline'")
    texts = {_const_text(const) for const in _find(tree, "CONST")}
    assert TRICKY_TEXT in texts
    assert "tab\there\nline" in texts


def _const_text(const: Node) -> str | None:
    """A text Const's value: a 4-byte varlena header (1-byte headers are not used in stored trees) + UTF-8."""
    datum = const.get("constvalue")
    if not isinstance(datum, Datum) or const.get("consttype") != 25:
        return None
    return datum.data[4:].decode()


def test_every_policy_of_a_policy_heavy_table_reads(database: TestDatabase) -> None:
    database.execute(
        f"""{TABLE}
        CREATE TABLE orgs (id uuid PRIMARY KEY, members uuid[], settings jsonb);
        CREATE POLICY p1 ON t FOR SELECT USING (
            CASE WHEN status IS NULL THEN false WHEN status LIKE '%(x)%' THEN auth.role() = 'a b' ELSE true END);
        CREATE POLICY p2 ON t FOR INSERT WITH CHECK (
            org_id IN (SELECT id FROM orgs WHERE (SELECT auth.uid()) = ANY (members)));
        CREATE POLICY p3 ON t FOR UPDATE USING (status::varchar(10) = ANY ('{{a,b}}'::text[]))
            WITH CHECK (EXISTS (SELECT 1 FROM orgs o WHERE o.settings #>> '{{a,b}}' = 'x\\y'
                                AND o.settings @> '{{"k": [1, 2.5, null]}}'::jsonb));
        CREATE POLICY p4 ON t FOR DELETE USING (
            coalesce(nullif(current_setting('app.flag', true), ''), 'off')::boolean
            AND user_id IS DISTINCT FROM '00000000-0000-0000-0000-000000000000'::uuid);
        CREATE POLICY p5 ON t USING (
            (SELECT count(*) FROM orgs WHERE id = t.org_id GROUP BY id HAVING count(*) > 1) > 0
            OR status IN (WITH c AS (SELECT 'x' AS s UNION ALL SELECT 'y') SELECT s FROM c)
            OR row(user_id, org_id) = row((SELECT auth.uid()), NULL::uuid)
            OR array_length(ARRAY[1, 2, -3.5e3::int], 1) = 3 OR status ~* '^[{{}}()\\\\]"$');
        """
    )
    rows = database.query("SELECT polname, polqual::text, polwithcheck::text FROM pg_policy ORDER BY polname")
    assert len(rows) == 5
    oids = _checked_oids(database)
    for _name, qual, check in rows:
        for text in (qual, check):
            if text is not None:
                tree = parse_node_tree(text)
                function_calls_outside_initplan(tree, oids)
    p1 = parse_node_tree(rows[0][1])
    assert p1.name == "CASEEXPR"
    assert {c.get("subLinkType") for c in _find(parse_node_tree(rows[4][1]), "SUBLINK")} >= {2, 4}


def test_sublink_type_numbering_matches_the_server(database: TestDatabase) -> None:
    """EXISTS=0, ANY=2, EXPR=4, ARRAY=6 as written by this server (the reader relies on EXPR_SUBLINK = 4)."""
    tree = _policy_tree(
        database,
        "EXISTS (SELECT 1) AND status IN (SELECT 'a') AND status = (SELECT 'b') AND 'c' = ANY (ARRAY(SELECT 'c'))",
    )
    kinds = [sublink.get("subLinkType") for sublink in _find(tree, "SUBLINK")]
    assert kinds == [0, 2, 4, 6]
