-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- create-policy public.posts."authors write": PERMISSIVE FOR ALL TO authenticated USING (author = ( SELECT auth.uid() AS uid)) WITH CHECK (author = ( SELECT auth.uid() AS uid))
-- hazard authz-widening: widens who can see or change rows of the table; needs --allow-authz-widening
CREATE POLICY "authors write" ON "public"."posts" AS PERMISSIVE FOR ALL TO "authenticated" USING (author = (select auth.uid())) WITH CHECK (author = (select auth.uid()));
-- create-policy public.posts."read published": PERMISSIVE FOR SELECT TO anon, authenticated USING published
-- hazard authz-widening: widens who can see or change rows of the table; needs --allow-authz-widening
CREATE POLICY "read published" ON "public"."posts" AS PERMISSIVE FOR SELECT TO "anon", "authenticated" USING (published);
COMMIT;
