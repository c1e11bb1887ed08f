-- pgstate plan
-- build-index public."User_isPremium_credits_idx": btree ("isPremium", credits)
CREATE INDEX CONCURRENTLY "User_isPremium_credits_idx" ON "public"."User" USING "btree" ("isPremium", "credits");
