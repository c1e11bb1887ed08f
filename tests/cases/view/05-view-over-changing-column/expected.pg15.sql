-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-view public.user_emails: out of the way of a change: dropped and created
DROP VIEW "public"."user_emails";
-- alter-column-type public.users.email: change type character varying(320) -> text (no rewrite)
ALTER TABLE "public"."users" ALTER COLUMN "email" TYPE text USING ("email"::text);
-- create-view public.user_emails: created again; columns: id, email
CREATE VIEW "public"."user_emails" AS SELECT users.id,
    users.email
   FROM users;
COMMIT;
