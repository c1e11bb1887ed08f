-- pgstate plan
-- build-index public.members_lower_idx: UNIQUE btree ((lower(email::text)))
CREATE UNIQUE INDEX CONCURRENTLY "members_lower_idx" ON "public"."members" USING "btree" ((lower(email::text)));
