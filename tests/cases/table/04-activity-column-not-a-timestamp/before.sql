CREATE TABLE interviews (id int PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), batch integer);
INSERT INTO interviews (id, batch) VALUES (1, 7);
