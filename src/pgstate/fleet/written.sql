-- The end of the WAL this primary has written so far: what a standby has to replay to have everything committed.
-- The insert position, not pg_current_wal_lsn(): with synchronous_commit = off a commit returns before its record
-- is written out, and the write position can lie before the last commit (the walwriter flushes it within
-- wal_writer_delay, and the standby gets it then).
-- When the last record ends exactly at a page's end, the insert position already points past the next page's header
-- (24 bytes, 40 at a segment's start), where no record has begun: a standby that replayed everything stands at the
-- page boundary, so the boundary is the position to wait for.
SELECT CASE
         WHEN offset_in_segment = 40 THEN inserted - 40
         WHEN offset_in_page = 24 THEN inserted - 24
         ELSE inserted
       END::text AS written
  FROM (SELECT inserted,
               (inserted - '0/0'::pg_lsn) % current_setting('wal_block_size')::numeric AS offset_in_page,
               (inserted - '0/0'::pg_lsn) % pg_size_bytes(current_setting('wal_segment_size')) AS offset_in_segment
          FROM (SELECT pg_current_wal_insert_lsn() AS inserted) AS position) AS offsets
