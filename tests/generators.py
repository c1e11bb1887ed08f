"""Generated round trips: for each kind, a hypothesis strategy of (SQL that makes the live state, desired YAML)
drawn over what the kind's part of the format can say. Every draw is valid: the laws, not the refusals, are
under test (refusals have their own cases)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st


@dataclass(frozen=True)
class Example:
    before: str  # SQL run on a fresh database; {database} stands for its quoted name
    desired: str  # the desired YAML stream
    lossy: bool = False  # the apply converts values (backed up; rollback gives them back)

    def __str__(self) -> str:
        return f"--- before.sql\n{self.before}\n--- desired.yaml\n{self.desired}"


def _yaml_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


# --- columns ---------------------------------------------------------------------------------------------------

# (type before, type after, a value both hold, whether the change may lose information)
TRANSITIONS = [
    ("integer", "bigint", "7", False),
    ("integer", "numeric(12,2)", "7", False),
    ("smallint", "integer", "7", False),
    ("real", "double precision", "1.5", False),
    ("varchar(40)", "text", "'abc'", False),
    ("varchar(40)", "varchar(80)", "'abc'", False),
    ("text", "varchar(200)", "'abc'", True),
    ("json", "jsonb", '\'{"b": 1, "a": 2}\'', True),
    ("timestamp", "timestamptz", "'2025-01-02 03:04:05'", True),
    ("varchar(40)", "varchar(40)", "'abc'", False),  # the same type: a collation change, or nothing
]
COLLATIONS = [None, "C", "POSIX"]


@st.composite
def columns(draw: st.DrawFn) -> Example:
    picked = draw(st.lists(st.sampled_from(range(len(TRANSITIONS))), min_size=1, max_size=4, unique=True))
    before_columns, values, desired_columns, lossy = [], [], [], False
    for position, number in enumerate(picked):
        old, new, value, may_lose = TRANSITIONS[number]
        text_like = old.startswith(("varchar", "text")) and new.startswith(("varchar", "text"))
        old_collation = draw(st.sampled_from(COLLATIONS)) if text_like else None
        new_collation = draw(st.sampled_from([*COLLATIONS, "default"])) if text_like else None
        collate = f' COLLATE "{old_collation}"' if old_collation else ""
        before_columns.append(f"c{position} {old}{collate}")
        values.append(value)
        spec = f"type: '{new}'" + (f", collation: {new_collation}" if new_collation else "")
        desired_columns.append(f"  c{position}: {{{spec}}}")
        lossy = lossy or (may_lose and old != new)
    before = (
        f"CREATE TABLE t (id int PRIMARY KEY, {', '.join(before_columns)});\n"
        f"INSERT INTO t VALUES (1, {', '.join(values)}), (2, {', '.join(values)});\n"
    )
    return Example(before, "table: t\ncolumns:\n" + "\n".join(desired_columns) + "\n", lossy)


# --- indexes ---------------------------------------------------------------------------------------------------

TABLE = (
    "CREATE TABLE t (id int PRIMARY KEY, a int, b text, c timestamptz, d jsonb, e varchar(40));\n"
    "INSERT INTO t SELECT g, g % 7, 'x' || g, now() - g * interval '1 hour', jsonb_build_object('k', g), 'e' || g"
    " FROM generate_series(1, 20) g;\n"
)
# name -> (SQL definition after ON t, YAML entry)
INDEXES = {
    "t_a": ("(a)", "{name: t_a, columns: [a]}"),
    "t_a_b": ("(a, b DESC)", "{name: t_a_b, columns: [a, {column: b, order: desc}]}"),
    "t_b_partial": ("(b) WHERE a > 3", "{name: t_b_partial, columns: [b], where: 'a > 3'}"),
    "t_lower_b": ("(lower(b))", "{name: t_lower_b, columns: [{expression: lower(b)}]}"),
    "t_a_inc": ("(a) INCLUDE (b)", "{name: t_a_inc, columns: [a], include: [b]}"),
    "t_id_unique": ("(id, a)", "{name: t_id_unique, columns: [id, a], unique: true}"),
    "t_d_gin": ("USING gin (d)", "{name: t_d_gin, columns: [d], method: gin}"),
    "t_c_brin": ("USING brin (c)", "{name: t_c_brin, columns: [c], method: brin}"),
    "t_b_hash": ("USING hash (b)", "{name: t_b_hash, columns: [b], method: hash}"),
    "t_b_pattern": ("(b text_pattern_ops)", "{name: t_b_pattern, columns: [{column: b, opclass: text_pattern_ops}]}"),
    "t_b_c": ('(b COLLATE "C")', "{name: t_b_c, columns: [{column: b, collation: C}]}"),
    "t_e_lower": ("(lower(e))", "{name: t_e_lower, columns: [{expression: lower(e)}]}"),
    "t_c_nulls": ("(c NULLS FIRST)", "{name: t_c_nulls, columns: [{column: c, nulls: first}]}"),
}
# What a name can mean instead, so that a declared index differs from the live one of its name.
ALTERNATIVES = {
    "t_a": ("(a DESC)", "{name: t_a, columns: [{column: a, order: desc}]}"),
    "t_b_partial": ("(b) WHERE a > 5", "{name: t_b_partial, columns: [b], where: 'a > 5'}"),
    "t_a_inc": ("(a) INCLUDE (b, c)", "{name: t_a_inc, columns: [a], include: [b, c]}"),
}


@st.composite
def indexes(draw: st.DrawFn) -> Example:
    names = sorted(INDEXES)
    live = draw(st.lists(st.sampled_from(names), max_size=5, unique=True))
    wanted = draw(st.lists(st.sampled_from(names), max_size=5, unique=True))
    absent = draw(st.lists(st.sampled_from(sorted(set(live) - set(wanted)) or ["t_a"]), max_size=1, unique=True))
    before = TABLE + "".join(
        f"CREATE {'UNIQUE ' if 'unique' in name else ''}INDEX {name} ON t {INDEXES[name][0]};\n" for name in live
    )
    entries = []
    for name in wanted:
        changed = name in ALTERNATIVES and draw(st.booleans())
        entries.append((ALTERNATIVES if changed else INDEXES)[name][1])
    entries += [f"{{name: {name}, present: false}}" for name in absent if name not in wanted]
    if not entries:
        entries = ["{name: t_a, columns: [a]}"]
    prune = draw(st.booleans())
    text = (
        "table: t\nindexes:\n"
        + "".join(f"  - {entry}\n" for entry in entries)
        + f"prune_indexes: {str(prune).lower()}\n"
    )
    return Example(before, text)


# --- row-level security and policies -----------------------------------------------------------------------------

POLICY_TABLE = "CREATE TABLE t (id int PRIMARY KEY, owner uuid, kind text, public boolean NOT NULL DEFAULT false);\n"
EXPRESSIONS = [
    "owner = (select auth.uid())",
    "public",
    "kind = ANY (ARRAY['a', 'b'])",
    "kind IN ('a', 'b')",
    "id > 0 AND NOT public",
    "EXISTS (SELECT 1 FROM t other WHERE other.id = t.id)",
    "true",
]
ROLES = ["public", "anon", "authenticated", "service_role"]
COMMANDS = ["all", "select", "insert", "update", "delete"]


@st.composite
def _policy(draw: st.DrawFn, name: str) -> tuple[str, str]:
    command = draw(st.sampled_from(COMMANDS))
    roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True))
    permissive = draw(st.booleans())
    using = draw(st.sampled_from(EXPRESSIONS)) if command != "insert" else None
    check = (
        draw(st.sampled_from(EXPRESSIONS)) if command in ("all", "insert", "update") and draw(st.booleans()) else None
    )
    if using is None and check is None:
        check = "true"
    sql = (
        f'CREATE POLICY "{name}" ON t AS {"PERMISSIVE" if permissive else "RESTRICTIVE"} FOR {command}'
        f" TO {', '.join(roles)}"
        + (f" USING ({using})" if using else "")
        + (f" WITH CHECK ({check})" if check else "")
        + ";\n"
    )
    yaml = (
        f"  - name: {name}\n    command: {command}\n    roles: {_yaml_list(roles)}\n"
        + f"    permissive: {str(permissive).lower()}\n"
        + (f'    using: "{using}"\n' if using else "")
        + (f'    with_check: "{check}"\n' if check else "")
    )
    return sql, yaml


@st.composite
def policies(draw: st.DrawFn) -> Example:
    names = ["p1", "p 2", "P3"]
    live = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    wanted = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    before = POLICY_TABLE + ("ALTER TABLE t ENABLE ROW LEVEL SECURITY;\n" if draw(st.booleans()) else "")
    before += "".join(draw(_policy(name))[0] for name in live)
    entries = "".join(draw(_policy(name))[1] for name in wanted)
    return Example(before, "table: t\npolicies:" + ("\n" + entries if entries else " []\n"))


@st.composite
def rls(draw: st.DrawFn) -> Example:
    enabled_before, forced_before, enabled, forced = (draw(st.booleans()) for _ in range(4))
    before = POLICY_TABLE + "CREATE POLICY own ON t TO authenticated USING (owner = (select auth.uid()));\n"
    before += "ALTER TABLE t ENABLE ROW LEVEL SECURITY;\n" if enabled_before else ""
    before += "ALTER TABLE t FORCE ROW LEVEL SECURITY;\n" if forced_before else ""
    return Example(before, f"table: t\nrls: {{enabled: {str(enabled).lower()}, forced: {str(forced).lower()}}}\n")


# --- storage parameters ------------------------------------------------------------------------------------------

PARAMETERS = {
    "fillfactor": st.integers(min_value=50, max_value=100).map(str),
    "autovacuum_vacuum_scale_factor": st.sampled_from(["0.01", "0.05", "0.2", "0.050"]),
    "autovacuum_enabled": st.sampled_from(["true", "false", "on", "off"]),
    "parallel_workers": st.integers(min_value=0, max_value=8).map(str),
    "toast.autovacuum_enabled": st.sampled_from(["true", "false"]),
    "autovacuum_analyze_threshold": st.integers(min_value=0, max_value=1000).map(str),
}


@st.composite
def storage(draw: st.DrawFn) -> Example:
    names = sorted(PARAMETERS)
    live = {name: draw(PARAMETERS[name]) for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True))}
    wanted = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    before = "CREATE TABLE t (id int PRIMARY KEY, body text);\n"
    if live:
        before += "ALTER TABLE t SET (" + ", ".join(f"{n} = {v}" for n, v in live.items()) + ");\n"
    entries = "".join(f"  {name}: {draw(st.one_of(st.just('null'), PARAMETERS[name].map(repr)))}\n" for name in wanted)
    return Example(before, "table: t\nstorage:\n" + entries)


# --- functions ---------------------------------------------------------------------------------------------------


@st.composite
def _function(draw: st.DrawFn, returns_set: bool) -> dict[str, str]:
    attributes: dict[str, str] = {
        "volatility": draw(st.sampled_from(["volatile", "stable", "immutable"])),
        "strict": draw(st.sampled_from(["true", "false"])),
        "parallel": draw(st.sampled_from(["unsafe", "restricted", "safe"])),
        "cost": draw(st.sampled_from(["1", "100", "5.5"])),
        "leakproof": draw(st.sampled_from(["true", "false"])),
    }
    if draw(st.booleans()):
        attributes["security"] = "definer"
        attributes["search_path"] = draw(st.sampled_from(["[]", "[pg_catalog]", "[pg_catalog, public]"]))
    if draw(st.booleans()):
        attributes["set"] = draw(
            st.sampled_from(["{work_mem: 64MB}", "{statement_timeout: 1s}", "{work_mem: 4096, lock_timeout: 500ms}"])
        )
    if returns_set:
        attributes["rows"] = draw(st.sampled_from(["10", "1000"]))
    return attributes


def _function_sql(attributes: dict[str, str], returns_set: bool, body: str, sql_body: bool) -> str:
    parts = [
        "CREATE FUNCTION f(n integer) RETURNS " + ("SETOF integer" if returns_set else "integer") + " LANGUAGE sql",
        attributes["volatility"].upper(),
        "STRICT" if attributes["strict"] == "true" else "CALLED ON NULL INPUT",
        "PARALLEL " + attributes["parallel"].upper(),
        "COST " + attributes["cost"],
        "LEAKPROOF" if attributes["leakproof"] == "true" else "NOT LEAKPROOF",
    ]
    if attributes.get("security") == "definer":
        path = attributes["search_path"].strip("[]").strip()
        parts += ["SECURITY DEFINER", "SET search_path = " + (path if path else "''")]
    for entry in attributes.get("set", "{}").strip("{}").split(","):
        if entry.strip():
            name, value = (part.strip() for part in entry.split(":"))
            parts.append(f"SET {name} = '{value}'")
    if returns_set:
        parts.append("ROWS " + attributes["rows"])
    parts.append(body if sql_body else f"AS $$ {body} $$")
    return " ".join(parts) + ";\n"


@st.composite
def functions(draw: st.DrawFn) -> Example:
    returns_set = draw(st.booleans())
    bodies = (
        ["SELECT g FROM generate_series(1, n) g", "SELECT n UNION ALL SELECT n + 1"]
        if returns_set
        else ["SELECT n + 1", "SELECT n * 2"]
    )
    sql_bodies = ["RETURN n + 1", "RETURN n * 2"] if not returns_set else []
    exists = draw(st.booleans())
    before = ""
    if exists:
        use_sql_body = bool(sql_bodies) and draw(st.booleans())
        body = draw(st.sampled_from(sql_bodies if use_sql_body else bodies))
        before = _function_sql(draw(_function(returns_set)), returns_set, body, use_sql_body)
    if exists and draw(st.integers(0, 4)) == 0:
        return Example(before, "function: f\narguments: integer\npresent: false\n")
    attributes = draw(_function(returns_set))
    use_sql_body = bool(sql_bodies) and draw(st.booleans())
    body = draw(st.sampled_from(sql_bodies if use_sql_body else bodies))
    lines = [
        "function: f",
        "arguments: n integer",
        "returns: " + ("SETOF integer" if returns_set else "integer"),
        "language: sql",
    ]
    lines += [f"{key}: {value}" for key, value in attributes.items()]
    lines.append(f"sql_body: {body}" if use_sql_body else f"body: {body}")
    return Example(before, "\n".join(lines) + "\n")


# --- views -------------------------------------------------------------------------------------------------------

VIEW_TABLE = "CREATE TABLE t (id int PRIMARY KEY, status text, total numeric(10,2));\n"
QUERIES = [
    "SELECT id, status FROM t",
    "SELECT id, status FROM t WHERE status = 'open'",
    "SELECT id, status, total FROM t",
    "SELECT id AS order_id, status FROM t",
    "SELECT count(*) AS n FROM t",
]


@st.composite
def _view_options(draw: st.DrawFn, query: str) -> dict[str, str]:
    options = {}
    if "count" not in query and draw(st.booleans()):
        options["check_option"] = draw(st.sampled_from(["local", "cascaded"]))
    if draw(st.booleans()):
        options["security_barrier"] = "true"
    if draw(st.booleans()):
        options["security_invoker"] = "true"
    return options


@st.composite
def views(draw: st.DrawFn) -> Example:
    before = VIEW_TABLE
    if draw(st.booleans()):
        query = draw(st.sampled_from(QUERIES))
        options = draw(_view_options(query))
        with_options = ", ".join(f"{k} = {v}" for k, v in options.items())
        before += f"CREATE VIEW v{' WITH (' + with_options + ')' if options else ''} AS {query};\n"
        if draw(st.booleans()):
            before += "GRANT SELECT ON v TO authenticated;\n"
        if draw(st.integers(0, 4)) == 0:
            return Example(before, "view: v\npresent: false\n")
    query = draw(st.sampled_from(QUERIES))
    options = draw(_view_options(query))
    text = f"view: v\nquery: {query}\n" + "".join(f"{k}: {v}\n" for k, v in options.items())
    return Example(before, text)


# --- database settings and extensions ----------------------------------------------------------------------------

SETTINGS = {
    "work_mem": ["4MB", "4096", "64MB", "'8 MB'"],
    "statement_timeout": ["1s", "1000", "30s", "2min"],
    "lock_timeout": ["500ms", "2s"],
    "idle_in_transaction_session_timeout": ["1min", "60000"],
    "search_path": ['"public, extensions"', "[public]", '"\\"$user\\", public"'],
    "log_min_duration_statement": ["250ms", "-1", "1s"],
    "jit": ["on", "off", "true"],
}


def _setting_sql(name: str, value: str) -> str:
    """The SQL that sets a value as the YAML spells it; {database} is the test database's quoted name."""
    literal = value.strip("'\"").replace('\\"', '"')
    if name == "search_path":  # a list, written as SHOW prints it: its elements are identifiers
        return f"ALTER DATABASE {{database}} SET search_path = {literal.strip('[]')};\n"
    return f"ALTER DATABASE {{database}} SET {name} = '{literal}';\n"


@st.composite
def settings(draw: st.DrawFn) -> Example:
    names = sorted(SETTINGS)
    live = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    wanted = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    before = "".join(_setting_sql(name, draw(st.sampled_from(SETTINGS[name]))) for name in live)
    entries = "".join(f"    {name}: {draw(st.sampled_from([*SETTINGS[name], 'null']))}\n" for name in wanted)
    return Example(before or "SELECT 1;\n", "database:\n  settings:\n" + entries)


EXTENSIONS = {"pg_trgm": ["1.5", "1.6"], "hstore": ["1.7", "1.8"], "citext": ["1.5", "1.6"], "btree_gin": ["1.3"]}


@st.composite
def extensions(draw: st.DrawFn) -> Example:
    names = sorted(EXTENSIONS)
    live = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    before = "CREATE SCHEMA extensions;\n"
    for name in live:
        schema = draw(st.sampled_from(["public", "extensions"]))
        before += f"CREATE EXTENSION {name} SCHEMA {schema};\n"
    entries = []
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        if name in live and draw(st.booleans()):
            entries.append(f"{{name: {name}, present: false}}")
            continue
        fields = [f"name: {name}"]
        if name not in live and draw(st.booleans()):  # a version only where nothing must go back down
            fields.append(f"version: '{draw(st.sampled_from(EXTENSIONS[name]))}'")
        if name != "btree_gin" and draw(st.booleans()):
            fields.append(f"schema: {draw(st.sampled_from(['public', 'extensions']))}")
        entries.append("{" + ", ".join(fields) + "}")
    return Example(before, "database:\n  extensions:\n" + "".join(f"    - {entry}\n" for entry in entries))


# --- tables: retirement -----------------------------------------------------------------------------------------


@st.composite
def tables(draw: st.DrawFn) -> Example:
    rows = draw(st.integers(min_value=0, max_value=30))
    before = (
        "CREATE TABLE legacy (id int PRIMARY KEY, created_at timestamptz NOT NULL, note text);\n"
        f"INSERT INTO legacy SELECT g, now() - interval '30 days', 'n' || g FROM generate_series(1, {rows}) g;\n"
    )
    if draw(st.booleans()):
        before += "CREATE INDEX legacy_note_idx ON legacy (note);\n"
    if draw(st.booleans()):
        before += (
            "ALTER TABLE legacy ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON legacy TO authenticated USING (true);\n"
        )
    if draw(st.booleans()):
        before += "GRANT SELECT ON legacy TO authenticated;\n"
    return Example(
        before, "table: legacy\npresent: false\nretire: {activity_column: created_at, quiet_days: 0}\n", lossy=False
    )


# --- a column type change with dependents on other tables --------------------------------------------------------

DEPENDENTS = {
    "view": "CREATE VIEW report AS SELECT id, amount FROM payments;\n",
    "policy": (
        "CREATE TABLE invoices (id int PRIMARY KEY, payment_id int,"
        " created_at timestamptz NOT NULL DEFAULT now() - interval '1 day');\n"
        "ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY paid ON invoices TO authenticated USING"
        " (EXISTS (SELECT 1 FROM payments p WHERE p.id = payment_id AND p.amount > 0));\n"
    ),
    "index": "CREATE INDEX payments_amount_idx ON payments (amount);\n",
    # expressions that read otherwise once the type changes: created again, they must read as they did
    "view-filter": "CREATE VIEW positive AS SELECT id FROM payments WHERE amount > 0;\n",
    "partial-index": "CREATE INDEX payments_positive_idx ON payments (id) WHERE amount > 0;\n",
    "function-view": (
        "CREATE FUNCTION total() RETURNS numeric LANGUAGE sql STABLE AS 'SELECT sum(amount) FROM payments';\n"
        "CREATE VIEW totals AS SELECT total() AS total;\n"
    ),
}


@st.composite
def dependents(draw: st.DrawFn) -> Example:
    """The changing column is read by views, policies and indexes, of its table and of others: they are dropped
    before the type change and created again after it, exactly as they were."""
    picked = draw(st.lists(st.sampled_from(sorted(DEPENDENTS)), min_size=1, max_size=4, unique=True))
    before = (
        "CREATE TABLE payments (id int PRIMARY KEY, amount integer);\nINSERT INTO payments VALUES (1, 5), (2, 7);\n"
    )
    before += "".join(DEPENDENTS[name] for name in picked)
    if "view" in picked and draw(st.booleans()):
        before += "GRANT SELECT ON report TO authenticated;\n"
    new_type = draw(st.sampled_from(["bigint", "numeric(12,2)"]))
    desired = f"table: payments\ncolumns:\n  amount: {{type: '{new_type}'}}\n"
    if "policy" in picked and draw(st.booleans()):  # the other table retired in the same run: it goes first
        desired += "---\ntable: invoices\npresent: false\nretire: {activity_column: created_at, quiet_days: 0}\n"
    return Example(before, desired)


# --- role settings ---------------------------------------------------------------------------------------------

ROLE_SETTINGS = {
    "statement_timeout": ["8s", "8000", "30s", "1min"],
    "idle_in_transaction_session_timeout": ["30s", "60000"],
    "lock_timeout": ["2s", "500ms"],
    "work_mem": ["8MB", "8192", "64MB"],
    "search_path": ['"\\"$user\\", public"', "[public, extensions]"],
}
# A role of the generator's own for settings of every database: roles belong to the whole server.
GENERATED_ROLE = (
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgstate_gen_role') THEN"
    " CREATE ROLE pgstate_gen_role NOLOGIN; END IF; END $$;\nALTER ROLE pgstate_gen_role RESET ALL;\n"
)


@st.composite
def role_settings(draw: st.DrawFn) -> Example:
    before, documents = GENERATED_ROLE, []
    for role, database_only in (("authenticated", True), ("pgstate_gen_role", False)):
        where = " IN DATABASE {database}" if database_only else ""
        for name in draw(st.lists(st.sampled_from(sorted(ROLE_SETTINGS)), max_size=3, unique=True)):
            value = draw(st.sampled_from(ROLE_SETTINGS[name]))
            before += _setting_sql(name, value).replace("ALTER DATABASE {database}", f"ALTER ROLE {role}{where}")
        wanted = draw(st.lists(st.sampled_from(sorted(ROLE_SETTINGS)), max_size=3, unique=True))
        if wanted:
            entries = "".join(f"  {n}: {draw(st.sampled_from([*ROLE_SETTINGS[n], 'null']))}\n" for n in wanted)
            scope = "" if database_only and draw(st.booleans()) else f"database_only: {str(database_only).lower()}\n"
            documents.append(f"role: {role}\n{scope}settings:\n{entries}")
    return Example(before, "---\n".join(documents) or "role: authenticated\nsettings: {}\n")


STRATEGIES = {
    "column": columns(),
    "index": indexes(),
    "policy": policies(),
    "rls": rls(),
    "storage": storage(),
    "function": functions(),
    "view": views(),
    "setting": settings(),
    "extension": extensions(),
    "table": tables(),
    "dependents": dependents(),
    "role-setting": role_settings(),
}
