-- pgstate plan
-- build-index public.users_active_email_idx: btree (email) WHERE deleted_at IS NULL
CREATE INDEX CONCURRENTLY "users_active_email_idx" ON "public"."users" USING "btree" ("email") WHERE (deleted_at IS NULL);
