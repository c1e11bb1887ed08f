-- pgstate plan
-- build-index public."order items_order id_idx": btree ("order id")
CREATE INDEX CONCURRENTLY "order items_order id_idx" ON "public"."order items" USING "btree" ("order id");
