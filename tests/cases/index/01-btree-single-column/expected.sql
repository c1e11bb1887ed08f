-- pgstate plan
-- build-index public.orders_customer_id_idx: btree (customer_id)
CREATE INDEX CONCURRENTLY "orders_customer_id_idx" ON "public"."orders" USING "btree" ("customer_id");
