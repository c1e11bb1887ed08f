-- pgstate plan
-- build-index public."we""ird_col""umn_idx": btree ("col""umn")
CREATE INDEX CONCURRENTLY "we""ird_col""umn_idx" ON "public"."we""ird" USING "btree" ("col""umn");
