-- pgstate plan
-- build-index public.orders_customer_idx: btree (customer_id, created_at)
CREATE INDEX CONCURRENTLY "orders_customer_idx_pgstate" ON "public"."orders" USING "btree" ("customer_id", "created_at");
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-index public.orders_customer_idx: replaced: btree (customer_id)
DROP INDEX "public"."orders_customer_idx";
-- rename-index public.orders_customer_idx: rename the replacement orders_customer_idx_pgstate to orders_customer_idx
ALTER INDEX "public"."orders_customer_idx_pgstate" RENAME TO "orders_customer_idx";
COMMIT;
