-- Storage parameters (reloptions) of the given tables, and of their TOAST tables as toast.<name>.
SELECT c.oid,
       coalesce(c.reloptions, '{}') AS reloptions,
       coalesce(t.reloptions, '{}') AS toast_reloptions
FROM pg_class c
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE c.oid = ANY (%(oids)s::oid[])
