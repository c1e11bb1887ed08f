DO $$ BEGIN
  EXECUTE format('ALTER ROLE authenticated IN DATABASE %I SET statement_timeout = %L', current_database(), '8000');
  EXECUTE format('ALTER ROLE authenticated IN DATABASE %I SET search_path = "$user", public', current_database());
END $$;
