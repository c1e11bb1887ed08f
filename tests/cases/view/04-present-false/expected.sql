-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-view public.old_report: declared absent (present: false)
DROP VIEW "public"."old_report";
COMMIT;
