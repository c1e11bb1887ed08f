-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '2s';
-- reset-setting work_mem: 32MB -> (not set)
ALTER DATABASE "{database}" RESET "work_mem";
COMMIT;
