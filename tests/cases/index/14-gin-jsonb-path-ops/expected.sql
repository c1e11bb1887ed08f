-- pgstate plan
-- build-index public.documents_attrs_idx: gin (attrs jsonb_path_ops)
CREATE INDEX CONCURRENTLY "documents_attrs_idx" ON "public"."documents" USING "gin" ("attrs" jsonb_path_ops);
