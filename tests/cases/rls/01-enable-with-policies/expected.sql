-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- enable-rls public.notes: enable row level security
ALTER TABLE "public"."notes" ENABLE ROW LEVEL SECURITY;
-- create-policy public.notes."own notes": PERMISSIVE FOR ALL TO authenticated USING (owner = ( SELECT auth.uid() AS uid))
CREATE POLICY "own notes" ON "public"."notes" AS PERMISSIVE FOR ALL TO "authenticated" USING (owner = (select auth.uid()));
COMMIT;
