DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET search_path = "$user", public, %I', current_database(), 'My Schema');
END $$;
