-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.ledger.amount_cents: change type integer -> bigint (rewrites the table)
-- hazard data-loss: destroys data: the rows are dumped and the dump verified first; needs --allow-destructive
ALTER TABLE "public"."ledger" ALTER COLUMN "amount_cents" TYPE bigint USING (amount_cents::bigint);
-- alter-column-type public.ledger.id: change type integer -> bigint (rewrites the table)
ALTER TABLE "public"."ledger" ALTER COLUMN "id" TYPE bigint USING ("id"::bigint);
COMMIT;
