CREATE TABLE tasks (id integer PRIMARY KEY, due_at timestamptz, priority integer NOT NULL DEFAULT 0);
INSERT INTO tasks VALUES (1, now(), 1), (2, NULL, 2), (3, now() + interval '2 days', 0);
