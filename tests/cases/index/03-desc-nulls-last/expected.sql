-- pgstate plan
-- build-index public.events_user_id_created_at_idx: btree (user_id, created_at DESC NULLS LAST)
CREATE INDEX CONCURRENTLY "events_user_id_created_at_idx" ON "public"."events" USING "btree" ("user_id", "created_at" DESC NULLS LAST);
