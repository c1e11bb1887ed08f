-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- retire-table public.interviews: drop the table (~2 rows, 32.0 kB); rows and definition dumped and verified first
-- hazard data-loss: destroys data: the rows are dumped and the dump verified first; needs --allow-destructive
DROP TABLE "public"."interviews";
COMMIT;
