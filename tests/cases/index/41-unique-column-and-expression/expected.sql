-- pgstate plan
-- build-index public.users_tenant_id_lower_idx: UNIQUE btree (tenant_id, (lower(email)))
CREATE UNIQUE INDEX CONCURRENTLY "users_tenant_id_lower_idx" ON "public"."users" USING "btree" ("tenant_id", (lower(email)));
