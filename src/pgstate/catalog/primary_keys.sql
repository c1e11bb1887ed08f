-- The primary key columns of each of the given tables (%(tables)s: text[] of regclass names), in key order.
SELECT n.nspname, c.relname, array_agg(a.attname ORDER BY k.position) AS columns
FROM unnest(%(tables)s::text[]) AS wanted(name)
JOIN pg_class c ON c.oid = to_regclass(wanted.name)
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
GROUP BY n.nspname, c.relname
