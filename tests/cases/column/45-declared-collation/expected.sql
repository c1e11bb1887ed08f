-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.codes.code: change type text -> text COLLATE "C" (no rewrite)
ALTER TABLE "public"."codes" ALTER COLUMN "code" TYPE text COLLATE "C" USING ("code"::text);
COMMIT;
