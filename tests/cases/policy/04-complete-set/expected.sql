-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-policy public.posts.legacy: not declared (policies: is the complete set): PERMISSIVE FOR ALL TO public USING true
DROP POLICY "legacy" ON "public"."posts";
COMMIT;
