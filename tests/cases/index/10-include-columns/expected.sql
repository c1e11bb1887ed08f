-- pgstate plan
-- build-index public.orders_customer_id_status_total_idx: btree (customer_id) INCLUDE (status, total)
CREATE INDEX CONCURRENTLY "orders_customer_id_status_total_idx" ON "public"."orders" USING "btree" ("customer_id") INCLUDE ("status", "total");
