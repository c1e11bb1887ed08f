-- pgstate plan
-- build-index public.customer_subscription_billing_external_payment_provider_ref_idx: btree (external_payment_provider_reference)
CREATE INDEX CONCURRENTLY "customer_subscription_billing_external_payment_provider_ref_idx" ON "public"."customer_subscription_billing_events" USING "btree" ("external_payment_provider_reference");
