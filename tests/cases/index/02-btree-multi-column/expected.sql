-- pgstate plan
-- build-index public.orders_customer_id_status_idx: btree (customer_id, status)
CREATE INDEX CONCURRENTLY "orders_customer_id_status_idx" ON "public"."orders" USING "btree" ("customer_id", "status");
