-- Supabase's advice against 503/504s: per-role timeouts for the serving roles, in this database only.
-- One is set already, as the server stores it (milliseconds, no unit).
DO $$ BEGIN
  EXECUTE format('ALTER ROLE authenticated IN DATABASE %I SET lock_timeout = %L', current_database(), '2000');
END $$;
