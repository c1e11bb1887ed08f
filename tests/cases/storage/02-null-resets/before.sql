CREATE TABLE events (id bigint PRIMARY KEY) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.050);
