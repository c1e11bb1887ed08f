-- The streaming standbys of this primary (pg_stat_replication), and how far each is behind the given WAL position
-- (see written.sql). replay_lsn and replay_lag are NULL to a role that is neither
-- superuser nor a member of pg_read_all_stats: the lag is then unknown, not zero.
SELECT coalesce(nullif(application_name, ''), 'walreceiver') || ' (pid ' || pid || ')' AS name,
       coalesce(host(client_addr), 'local socket') AS client,
       state,
       replay_lsn IS NOT NULL AS visible,
       pg_wal_lsn_diff(%(lsn)s::pg_lsn, replay_lsn)::float8 AS behind_bytes,
       coalesce(extract(epoch FROM replay_lag)::float8, 0) AS replay_lag_s
  FROM pg_stat_replication
 -- a logical subscriber's walsender always holds a logical slot: its lag is of rows, and not this primary's DDL
 WHERE pid NOT IN (SELECT active_pid FROM pg_replication_slots WHERE slot_type = 'logical' AND active_pid IS NOT NULL)
 ORDER BY application_name, pid
