CREATE TABLE events (id bigint PRIMARY KEY, payload json NOT NULL);
INSERT INTO events VALUES (1, '{"type": "signup"}'), (2, '{"type": "login", "ok": true}');
