-- The tables `export --all` may write: every ordinary and partitioned table of the schemas %(schemas)s, or, when
-- that is NULL, of every schema but the system's (pg_*, information_schema), pgstate's own and %(skipped)s.
-- Left out here, silently: members of an extension (CREATE EXTENSION made them, ALTER EXTENSION UPDATE changes
-- them), tables of a schema an extension created, and temporary tables. Partitions are returned, flagged, so
-- that export can say how many it leaves to their parent's file.
SELECT n.nspname AS schema_name,
       c.relname AS table_name,
       c.relispartition AS is_partition
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND c.relpersistence <> 't'
  AND NOT EXISTS (
      SELECT FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  AND NOT EXISTS (
      SELECT FROM pg_depend d
      WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
  AND CASE WHEN %(schemas)s::text[] IS NULL
           THEN n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND n.nspname <> 'pgstate'
                AND n.nspname <> ALL (%(skipped)s::text[])
           ELSE n.nspname = ANY (%(schemas)s::text[]) END
ORDER BY 1, 2
