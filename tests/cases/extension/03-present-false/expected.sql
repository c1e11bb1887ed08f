-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '2s';
-- drop-extension hstore: declared absent (present: false)
DROP EXTENSION "hstore";
COMMIT;
