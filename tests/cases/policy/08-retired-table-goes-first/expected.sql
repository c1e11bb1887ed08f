-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- retire-table public.legacy_members: drop the table (unknown rows, 8.0 kB); rows and definition dumped and verified first
-- hazard data-loss: destroys data: the rows are dumped and the dump verified first; needs --allow-destructive
DROP TABLE "public"."legacy_members";
-- alter-column-type public.teams.slug: change type character varying(40) -> text (no rewrite)
ALTER TABLE "public"."teams" ALTER COLUMN "slug" TYPE text USING ("slug"::text);
COMMIT;
