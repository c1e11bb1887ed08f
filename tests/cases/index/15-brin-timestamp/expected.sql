-- pgstate plan
-- build-index public.measurements_recorded_at_idx: brin (recorded_at)
CREATE INDEX CONCURRENTLY "measurements_recorded_at_idx" ON "public"."measurements" USING "brin" ("recorded_at");
