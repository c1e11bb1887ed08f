-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '2s';
-- alter-column-type public.events.payload: change type json -> jsonb (rewrites the table)
ALTER TABLE "public"."events" ALTER COLUMN "payload" TYPE jsonb USING ("payload"::jsonb);
-- create-index public.events_payload_idx: gin (payload)
CREATE INDEX "events_payload_idx" ON "public"."events" USING "gin" ("payload");
COMMIT;
