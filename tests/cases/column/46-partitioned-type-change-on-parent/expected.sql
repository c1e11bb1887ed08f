-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.events.kind: change type character varying(20) -> text (no rewrite)
ALTER TABLE "public"."events" ALTER COLUMN "kind" TYPE text USING ("kind"::text);
COMMIT;
