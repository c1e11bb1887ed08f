-- pgstate plan
-- build-index public.documents_body_idx: gin (body)
CREATE INDEX CONCURRENTLY "documents_body_idx" ON "public"."documents" USING "gin" ("body");
