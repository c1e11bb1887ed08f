-- pgstate plan
-- build-index public.tasks_due_at_idx: btree (due_at NULLS FIRST)
CREATE INDEX CONCURRENTLY "tasks_due_at_idx" ON "public"."tasks" USING "btree" ("due_at" NULLS FIRST);
