-- pgstate plan
-- build-index public.users_name_idx: btree (name)
CREATE INDEX CONCURRENTLY "users_name_idx" ON "public"."users" USING "btree" ("name");
