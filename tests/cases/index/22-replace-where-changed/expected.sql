-- pgstate plan
-- build-index public.jobs_pending_idx: btree (run_at) WHERE state = ANY (ARRAY['pending'::text, 'retrying'::text])
CREATE INDEX CONCURRENTLY "jobs_pending_idx_pgstate" ON "public"."jobs" USING "btree" ("run_at") WHERE (state = ANY (ARRAY['pending'::text, 'retrying'::text]));
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-index public.jobs_pending_idx: replaced: btree (run_at) WHERE state = 'pending'::text
DROP INDEX "public"."jobs_pending_idx";
-- rename-index public.jobs_pending_idx: rename the replacement jobs_pending_idx_pgstate to jobs_pending_idx
ALTER INDEX "public"."jobs_pending_idx_pgstate" RENAME TO "jobs_pending_idx";
COMMIT;
