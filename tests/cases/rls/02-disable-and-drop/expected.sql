-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-policy public.notes.everyone: not declared (policies: is the complete set): PERMISSIVE FOR ALL TO public USING true
DROP POLICY "everyone" ON "public"."notes";
-- disable-rls public.notes: disable row level security
-- hazard authz-widening: widens who can see or change rows of the table; needs --allow-authz-widening
ALTER TABLE "public"."notes" DISABLE ROW LEVEL SECURITY;
COMMIT;
