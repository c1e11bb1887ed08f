-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public."Interview"."resumeData": change type json -> jsonb (rewrites the table)
-- hazard data-loss: destroys data: the rows are dumped and the dump verified first; needs --allow-destructive
ALTER TABLE "public"."Interview" ALTER COLUMN "resumeData" TYPE jsonb USING ("resumeData"::jsonb);
COMMIT;
