DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET work_mem = ''32MB''', current_database()); END $$;
