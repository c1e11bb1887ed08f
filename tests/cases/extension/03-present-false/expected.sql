-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-extension hstore: declared absent (present: false)
DROP EXTENSION "hstore";
COMMIT;
