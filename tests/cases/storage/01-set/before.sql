CREATE TABLE events (id bigint PRIMARY KEY, payload text) WITH (fillfactor = 100);
