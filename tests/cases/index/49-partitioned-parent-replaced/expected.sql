-- pgstate plan
-- build-index public.events_2025_kind_idx_pgstate: btree (kind, at) on partition public.events_2025, to attach to events_kind_idx
CREATE INDEX CONCURRENTLY "events_2025_kind_idx_pgstate" ON "public"."events_2025" USING "btree" ("kind", "at");
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-index public.events_kind_idx: replaced: btree (kind)
DROP INDEX "public"."events_kind_idx";
-- create-index public.events_kind_idx: btree (kind, at) on the partitioned table only (its partitions' indexes are attached)
CREATE INDEX "events_kind_idx" ON ONLY "public"."events" USING "btree" ("kind", "at");
-- attach-index public.events_2025_kind_idx_pgstate: attach the index of partition public.events_2025 to events_kind_idx
ALTER INDEX "public"."events_kind_idx" ATTACH PARTITION "public"."events_2025_kind_idx_pgstate";
-- rename-index public.events_2025_kind_idx: rename the replacement events_2025_kind_idx_pgstate to events_2025_kind_idx
ALTER INDEX "public"."events_2025_kind_idx_pgstate" RENAME TO "events_2025_kind_idx";
COMMIT;
