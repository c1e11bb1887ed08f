-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.customers.name: change type character varying(100) -> character varying(200) (no rewrite)
ALTER TABLE "public"."customers" ALTER COLUMN "name" TYPE character varying(200) USING ("name"::character varying(200));
COMMIT;
