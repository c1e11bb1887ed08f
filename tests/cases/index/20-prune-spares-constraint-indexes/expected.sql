-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-index public.customers_lower_email_idx: not listed (prune_indexes): UNIQUE btree ((lower(email)))
DROP INDEX "public"."customers_lower_email_idx";
-- drop-index public.customers_name_idx: not listed (prune_indexes): btree (name)
DROP INDEX "public"."customers_name_idx";
COMMIT;
