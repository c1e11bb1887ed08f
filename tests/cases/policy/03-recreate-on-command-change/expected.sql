-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-policy public.posts.mine: changed: PERMISSIVE FOR ALL TO authenticated USING (author = ( SELECT auth.uid() AS uid))
DROP POLICY "mine" ON "public"."posts";
-- create-policy public.posts.mine: PERMISSIVE FOR SELECT TO authenticated USING (author = ( SELECT auth.uid() AS uid))
CREATE POLICY "mine" ON "public"."posts" AS PERMISSIVE FOR SELECT TO "authenticated" USING (author = (select auth.uid()));
COMMIT;
