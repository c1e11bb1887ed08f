-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-index public.users_email_idx: declared absent: btree (email)
DROP INDEX "public"."users_email_idx";
COMMIT;
