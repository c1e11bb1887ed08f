-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- reset-storage public.events.fillfactor: declared null (reset), was 70
ALTER TABLE "public"."events" RESET ("fillfactor");
COMMIT;
