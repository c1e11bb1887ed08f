-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '2s';
-- alter-column-type public."Interview"."resumeData": change type json -> jsonb (rewrites the table)
ALTER TABLE "public"."Interview" ALTER COLUMN "resumeData" TYPE jsonb USING ("resumeData"::jsonb);
COMMIT;
