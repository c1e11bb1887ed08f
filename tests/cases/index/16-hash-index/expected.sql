-- pgstate plan
-- build-index public.sessions_token_idx: hash (token)
CREATE INDEX CONCURRENTLY "sessions_token_idx" ON "public"."sessions" USING "hash" ("token");
