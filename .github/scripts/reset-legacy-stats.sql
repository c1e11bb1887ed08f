-- Run in the session that loaded seed/app.sql (see .github/workflows/ci.yml), as scripts/demo.py does.
-- Loading just read every table; in the story nobody has read the legacy table `interviews` for weeks.
-- PostgreSQL 16+ refuses to retire a table scanned within quiet_days, so its scan statistics (and its indexes')
-- are flushed to the shared statistics and then reset. PostgreSQL 14 has neither the guard nor the flush function.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 150000 THEN
        PERFORM pg_stat_force_next_flush();
    END IF;
END
$$;
SELECT 1;
SELECT pg_stat_reset_single_table_counters(oid) FROM pg_class WHERE oid = 'interviews'::regclass
    OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'interviews'::regclass);
