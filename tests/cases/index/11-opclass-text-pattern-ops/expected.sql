-- pgstate plan
-- build-index public.products_sku_idx: btree (sku text_pattern_ops)
CREATE INDEX CONCURRENTLY "products_sku_idx" ON "public"."products" USING "btree" ("sku" text_pattern_ops);
