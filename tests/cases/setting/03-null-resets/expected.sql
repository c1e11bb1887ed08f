-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- reset-setting work_mem: 32MB -> (not set)
ALTER DATABASE "{database}" RESET "work_mem";
COMMIT;
