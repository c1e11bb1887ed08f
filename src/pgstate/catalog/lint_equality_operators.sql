-- Every operator named `=`: a policy comparison that an index can serve. Node trees carry operator oids only,
-- and one query for all of them costs less than one per policy.
SELECT o.oid
FROM pg_operator o
WHERE o.oprname = '='
ORDER BY o.oid
