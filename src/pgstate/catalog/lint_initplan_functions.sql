-- The functions whose calls in a policy should run once per statement (an InitPlan), not once per row: every
-- function of the schema auth (Supabase's auth.uid(), auth.role(), auth.jwt(), ...) and current_setting().
-- to_regnamespace gives NULL when there is no schema auth, so that part then matches nothing.
SELECT p.oid,
       p.oid::regprocedure::text AS signature
FROM pg_proc p
WHERE p.pronamespace = to_regnamespace('auth')
   OR (p.proname = 'current_setting' AND p.pronamespace = 'pg_catalog'::regnamespace)
ORDER BY p.oid
