-- pgstate plan
-- build-index public.users_email_idx: UNIQUE btree (email)
CREATE UNIQUE INDEX CONCURRENTLY "users_email_idx" ON "public"."users" USING "btree" ("email");
