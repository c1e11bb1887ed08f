-- pgstate plan
-- analyze-table public.metrics: last analyzed: never
ANALYZE "public"."metrics";
