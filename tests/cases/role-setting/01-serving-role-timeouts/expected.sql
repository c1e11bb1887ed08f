-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- set-role-setting anon.statement_timeout: (not set) -> 3s (new sessions of anon)
ALTER ROLE "anon" IN DATABASE "{database}" SET "statement_timeout" = '3s';
-- set-role-setting authenticated.idle_in_transaction_session_timeout: (not set) -> 30s (new sessions of authenticated)
ALTER ROLE "authenticated" IN DATABASE "{database}" SET "idle_in_transaction_session_timeout" = '30s';
-- set-role-setting authenticated.statement_timeout: (not set) -> 8s (new sessions of authenticated)
ALTER ROLE "authenticated" IN DATABASE "{database}" SET "statement_timeout" = '8s';
COMMIT;
