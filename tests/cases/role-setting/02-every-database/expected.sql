-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- set-role-setting pgstate_case_reporting.search_path (every database): (not set) -> reporting, public (new sessions of pgstate_case_reporting)
ALTER ROLE "pgstate_case_reporting" SET "search_path" = 'reporting', 'public';
-- set-role-setting pgstate_case_reporting.statement_timeout (every database): (not set) -> 5min (new sessions of pgstate_case_reporting)
ALTER ROLE "pgstate_case_reporting" SET "statement_timeout" = '5min';
-- reset-role-setting pgstate_case_reporting.work_mem (every database): 64MB -> (not set)
ALTER ROLE "pgstate_case_reporting" RESET "work_mem";
COMMIT;
