-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '2s';
-- drop-view public.old_report: declared absent (present: false)
DROP VIEW "public"."old_report";
COMMIT;
