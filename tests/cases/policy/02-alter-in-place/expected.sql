-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-policy public.posts."read published": PERMISSIVE FOR SELECT TO anon USING published -> PERMISSIVE FOR SELECT TO anon, authenticated USING (published OR (author = ( SELECT auth.uid() AS uid)))
-- hazard authz-widening: widens who can see or change rows of the table; needs --allow-authz-widening
ALTER POLICY "read published" ON "public"."posts" TO "anon", "authenticated" USING (published OR author = (select auth.uid()));
COMMIT;
