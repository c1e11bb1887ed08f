-- pgstate plan
-- build-index public.users_display_name_idx: btree (display_name)
CREATE INDEX CONCURRENTLY "users_display_name_idx" ON "public"."users" USING "btree" ("display_name");
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.users.display_name: change type character varying(100) -> text (no rewrite)
ALTER TABLE "public"."users" ALTER COLUMN "display_name" TYPE text USING ("display_name"::text);
COMMIT;
