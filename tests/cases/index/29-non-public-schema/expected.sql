-- pgstate plan
-- build-index billing.invoices_customer_id_issued_at_idx: btree (customer_id, issued_at DESC)
CREATE INDEX CONCURRENTLY "invoices_customer_id_issued_at_idx" ON "billing"."invoices" USING "btree" ("customer_id", "issued_at" DESC);
