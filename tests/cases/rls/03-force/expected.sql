-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- force-rls public.notes: force row level security
ALTER TABLE "public"."notes" FORCE ROW LEVEL SECURITY;
COMMIT;
