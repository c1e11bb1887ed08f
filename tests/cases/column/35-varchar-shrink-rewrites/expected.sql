-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.coupons.code: change type character varying(100) -> character varying(20) (rewrites the table)
-- hazard data-loss: destroys data: the rows are dumped and the dump verified first; needs --allow-destructive
ALTER TABLE "public"."coupons" ALTER COLUMN "code" TYPE character varying(20) USING ("code"::character varying(20));
COMMIT;
