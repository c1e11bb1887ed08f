CREATE TABLE events (id bigint PRIMARY KEY, user_id integer NOT NULL, created_at timestamptz);
INSERT INTO events VALUES (1, 1, now()), (2, 1, NULL), (3, 2, now() - interval '1 day');
