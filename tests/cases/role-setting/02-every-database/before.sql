-- A role of its own (roles belong to the whole server): settings for every database, one of them set by
-- someone else, which pgstate leaves alone.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgstate_case_reporting') THEN
    CREATE ROLE pgstate_case_reporting NOLOGIN;
  END IF;
END $$;
ALTER ROLE pgstate_case_reporting RESET ALL;
ALTER ROLE pgstate_case_reporting SET work_mem = '64MB';
ALTER ROLE pgstate_case_reporting SET jit = off;
