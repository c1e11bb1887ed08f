-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.users.email: change type character varying(320) -> text (no table rewrite; rebuilds users_email_lower_idx)
ALTER TABLE "public"."users" ALTER COLUMN "email" TYPE text USING ("email"::text);
COMMIT;
