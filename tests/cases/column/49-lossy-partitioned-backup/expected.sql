-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.events.payload: change type json -> jsonb (rewrites the table)
-- hazard data-loss: destroys data: the rows are dumped and the dump verified first; needs --allow-destructive
ALTER TABLE "public"."events" ALTER COLUMN "payload" TYPE jsonb USING ("payload"::jsonb);
COMMIT;
