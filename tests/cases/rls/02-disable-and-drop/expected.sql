-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '2s';
-- disable-rls public.notes: disable row level security
ALTER TABLE "public"."notes" DISABLE ROW LEVEL SECURITY;
-- drop-policy public.notes.everyone: not declared (policies: is the complete set): PERMISSIVE FOR ALL TO public USING true
DROP POLICY "everyone" ON "public"."notes";
COMMIT;
