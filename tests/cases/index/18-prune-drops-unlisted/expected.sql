-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-index public.logs_level_idx: not listed (prune_indexes): btree (level)
DROP INDEX "public"."logs_level_idx";
-- drop-index public.logs_message_idx: not listed (prune_indexes): btree (message)
DROP INDEX "public"."logs_message_idx";
COMMIT;
