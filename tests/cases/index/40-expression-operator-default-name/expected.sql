-- pgstate plan
-- build-index public.line_items_expr_idx: btree (((quantity::numeric * unit_price)))
CREATE INDEX CONCURRENTLY "line_items_expr_idx" ON "public"."line_items" USING "btree" (((quantity::numeric * unit_price)));
