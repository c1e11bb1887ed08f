-- pgstate plan
-- drop-invalid-index public.accounts_status_idx: INVALID: rebuilt: btree (status)
DROP INDEX CONCURRENTLY IF EXISTS "public"."accounts_status_idx";
-- build-index public.accounts_status_idx: btree (status)
CREATE INDEX CONCURRENTLY "accounts_status_idx" ON "public"."accounts" USING "btree" ("status");
-- build-index public.users_email_idx: btree (email, created_at)
CREATE INDEX CONCURRENTLY "users_email_idx_pgstate" ON "public"."users" USING "btree" ("email", "created_at");
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.events.payload: change type json -> jsonb (rewrites the table)
-- hazard data-loss: destroys data: the rows are dumped and the dump verified first; needs --allow-destructive
ALTER TABLE "public"."events" ALTER COLUMN "payload" TYPE jsonb USING ("payload"::jsonb);
-- create-index public.events_payload_idx: gin (payload)
CREATE INDEX "events_payload_idx" ON "public"."events" USING "gin" ("payload");
-- drop-index public.accounts_legacy_idx: not listed (prune_indexes): btree (legacy_code)
DROP INDEX "public"."accounts_legacy_idx";
-- drop-index public.users_email_idx: replaced: btree (email)
DROP INDEX "public"."users_email_idx";
-- rename-index public.users_email_idx: rename the replacement users_email_idx_pgstate to users_email_idx
ALTER INDEX "public"."users_email_idx_pgstate" RENAME TO "users_email_idx";
COMMIT;
