-- pgstate plan
-- drop-invalid-index public.payments_reference_idx: INVALID: rebuilt: btree (reference)
DROP INDEX CONCURRENTLY IF EXISTS "public"."payments_reference_idx";
-- build-index public.payments_reference_idx: btree (reference)
CREATE INDEX CONCURRENTLY "payments_reference_idx" ON "public"."payments" USING "btree" ("reference");
