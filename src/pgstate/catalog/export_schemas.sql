-- Which of the schemas %(schemas)s exist (export --all --schema S refuses a schema that does not).
SELECT nspname FROM pg_namespace WHERE nspname = ANY (%(schemas)s::text[]) ORDER BY 1
