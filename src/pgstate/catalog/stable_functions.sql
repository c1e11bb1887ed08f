-- Of the given function oids (%(oids)s), those that are not volatile: a call of one of them, wrapped in a scalar
-- subquery (an InitPlan, run once per statement), gives every row the value the bare call would.
SELECT p.oid
FROM pg_proc p
WHERE p.oid = ANY (%(oids)s::oid[]) AND p.provolatile <> 'v'
ORDER BY p.oid
