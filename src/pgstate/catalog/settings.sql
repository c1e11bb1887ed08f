-- Every setting the server knows, with what is needed to read its values as the server does.
SELECT name, setting, unit, vartype, context, coalesce(enumvals, '{}') AS enumvals
FROM pg_settings
