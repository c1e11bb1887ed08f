-- pgstate plan
-- build-index public.events_2025_kind_idx: btree (kind) on partition public.events_2025, to attach to events_kind_idx
CREATE INDEX CONCURRENTLY "events_2025_kind_idx" ON "public"."events_2025" USING "btree" ("kind");
-- build-index public.events_2026_kind_idx: btree (kind) on partition public.events_2026, to attach to events_kind_idx
CREATE INDEX CONCURRENTLY "events_2026_kind_idx" ON "public"."events_2026" USING "btree" ("kind");
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- create-index public.events_kind_idx: btree (kind) on the partitioned table only (its partitions' indexes are attached)
CREATE INDEX "events_kind_idx" ON ONLY "public"."events" USING "btree" ("kind");
-- attach-index public.events_2025_kind_idx: attach the index of partition public.events_2025 to events_kind_idx
ALTER INDEX "public"."events_kind_idx" ATTACH PARTITION "public"."events_2025_kind_idx";
-- attach-index public.events_2026_kind_idx: attach the index of partition public.events_2026 to events_kind_idx
ALTER INDEX "public"."events_kind_idx" ATTACH PARTITION "public"."events_2026_kind_idx";
COMMIT;
