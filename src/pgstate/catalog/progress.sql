-- How far the index build of one backend is: its phase and the blocks or tuples done of the total.
SELECT phase,
       CASE WHEN blocks_total > 0 THEN blocks_done ELSE tuples_done END AS done,
       CASE WHEN blocks_total > 0 THEN blocks_total ELSE tuples_total END AS total
FROM pg_stat_progress_create_index
WHERE pid = %(pid)s
