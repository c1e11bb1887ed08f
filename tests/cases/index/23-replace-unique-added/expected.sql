-- pgstate plan
-- build-index public.users_username_idx: UNIQUE btree (username)
CREATE UNIQUE INDEX CONCURRENTLY "users_username_idx_pgstate" ON "public"."users" USING "btree" ("username");
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-index public.users_username_idx: replaced: btree (username)
DROP INDEX "public"."users_username_idx";
-- rename-index public.users_username_idx: rename the replacement users_username_idx_pgstate to users_username_idx
ALTER INDEX "public"."users_username_idx_pgstate" RENAME TO "users_username_idx";
COMMIT;
