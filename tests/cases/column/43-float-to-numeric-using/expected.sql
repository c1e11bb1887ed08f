-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.scores.score: change type double precision -> numeric(6,2) (rewrites the table)
-- hazard data-loss: destroys data: the rows are dumped and the dump verified first; needs --allow-destructive
ALTER TABLE "public"."scores" ALTER COLUMN "score" TYPE numeric(6,2) USING (round(score::numeric, 2));
COMMIT;
