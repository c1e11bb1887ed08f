-- Facts about the server and session that every plan depends on.
SELECT current_setting('server_version_num')::int AS server_version,
       current_setting('search_path') AS search_path,
       current_database() AS database_name,
       current_user AS user_name,
       to_regclass('pgstate.managed_settings') IS NOT NULL AS has_records,
       -- what one transaction may count on of the shared lock table: the sandbox sizes its rounds by it
       current_setting('max_locks_per_transaction')::int AS max_locks_per_transaction,
       -- The canonical-form cache (sandbox/cache.py), when an apply created it: the catalog's generation, a digest
       -- of every row (its identity and xmin, which any change renews) that can change how the server parses and
       -- prints a fragment: relations and their columns (a subquery's tables, a sequence in nextval), functions,
       -- operators, types, casts, collations, schemas and roles. Objects of the system (oid < 16384) change only
       -- with the server version, which is in every key; temporary relations and pgstate's own are left out.
       CASE WHEN cache.present THEN (
           SELECT md5(string_agg(part, ';' ORDER BY part)) FROM (
               SELECT 'relations ' || count(*) || ' ' || coalesce(sum(hashtextextended(c.oid || '.' || c.xmin, 0)), 0)
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c', 'S')
                  AND n.nspname !~ '^pg_(toast_)?temp_' AND n.nspname <> 'pgstate'
               UNION ALL
               SELECT 'columns ' || count(*) || ' '
                      || coalesce(sum(hashtextextended(a.attrelid || '.' || a.attnum || '.' || a.xmin, 0)), 0)
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE a.attrelid >= 16384 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
                  AND n.nspname !~ '^pg_(toast_)?temp_' AND n.nspname <> 'pgstate'
               UNION ALL
               SELECT 'functions ' || count(*) || ' ' || coalesce(sum(hashtextextended(oid || '.' || xmin, 0)), 0)
                 FROM pg_proc WHERE oid >= 16384
               UNION ALL
               SELECT 'operators ' || count(*) || ' ' || coalesce(sum(hashtextextended(oid || '.' || xmin, 0)), 0)
                 FROM pg_operator WHERE oid >= 16384
               UNION ALL
               SELECT 'types ' || count(*) || ' ' || coalesce(sum(hashtextextended(t.oid || '.' || t.xmin, 0)), 0)
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE t.oid >= 16384 AND n.nspname !~ '^pg_(toast_)?temp_' AND n.nspname <> 'pgstate'
               UNION ALL
               SELECT 'casts ' || count(*) || ' ' || coalesce(sum(hashtextextended(oid || '.' || xmin, 0)), 0)
                 FROM pg_cast WHERE oid >= 16384
               UNION ALL
               SELECT 'collations ' || count(*) || ' ' || coalesce(sum(hashtextextended(oid || '.' || xmin, 0)), 0)
                 FROM pg_collation WHERE oid >= 16384
               UNION ALL
               SELECT 'schemas ' || count(*) || ' ' || coalesce(sum(hashtextextended(oid || '.' || xmin, 0)), 0)
                 FROM pg_namespace WHERE oid >= 16384 AND nspname !~ '^pg_(toast_)?temp_'
               UNION ALL
               SELECT 'roles ' || count(*) || ' ' || coalesce(sum(hashtextextended(oid || '.' || rolname, 0)), 0)
                 FROM pg_roles
           ) parts(part)
       ) END AS canonical_generation,
       -- the session settings that change what a fragment means when the server parses it ('01/02/2020' is
       -- 2 January or 1 February by DateStyle; a timestamp without a zone is read in TimeZone; a backslash in a
       -- string is literal or an escape by standard_conforming_strings): part of every cache key
       concat_ws(';', current_setting('DateStyle'), current_setting('IntervalStyle'), current_setting('TimeZone'),
                 current_setting('standard_conforming_strings')) AS parse_settings,
       -- whether this session may add to the cache: not on a standby, not read-only, allowed to insert
       CASE WHEN cache.present THEN  -- CASE: has_table_privilege raises on a table that does not exist
           NOT pg_is_in_recovery() AND current_setting('default_transaction_read_only') = 'off'
           AND has_table_privilege('pgstate.canonical_forms', 'INSERT')
       ELSE false END AS canonical_writable,
       -- a hot standby, or a read-only session: the sandbox's temporary objects cannot be made here
       pg_is_in_recovery() AS in_recovery,
       current_setting('default_transaction_read_only') = 'on' AS read_only
FROM (SELECT to_regclass('pgstate.canonical_forms') IS NOT NULL AS present) cache
