-- The collations desired columns and index keys name (%(names)s), quoted as pg_get_indexdef prints them
-- (qualified outside pg_catalog); of those with one name, the one visible on the search_path first.
SELECT DISTINCT ON (c.collname)
       c.collname,
       CASE WHEN n.nspname = 'pg_catalog' THEN quote_ident(c.collname)
            ELSE quote_ident(n.nspname) || '.' || quote_ident(c.collname) END AS quoted
FROM pg_collation c
JOIN pg_namespace n ON n.oid = c.collnamespace
WHERE c.collname = ANY (%(names)s::text[])
  AND c.collencoding IN (-1, pg_char_to_encoding(getdatabaseencoding()))
ORDER BY c.collname, pg_collation_is_visible(c.oid) DESC, n.nspname = 'pg_catalog' DESC
