-- pgstate plan
-- build-index public.accounts_lower_idx: btree ((lower(email)))
CREATE INDEX CONCURRENTLY "accounts_lower_idx" ON "public"."accounts" USING "btree" ((lower(email)));
